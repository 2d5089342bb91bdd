using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// Values large enough that their form body or JSON envelope is streamed to the connection, end to end through the
/// embedded cluster and a real endpoint, with a byte bound that lets only a few be pending at once: every offset
/// arrives once, with its value intact and a Content-Length.
/// </summary>
public sealed class LargeValueEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public LargeValueEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Theory]
    [InlineData("form")]
    [InlineData("json")]
    public async Task LargeValues_StreamedBodies_EveryOffsetOnceWithItsValue_Issue7(string format)
    {
        // 2 × 8 values of 150-200 KB: some 3 MB, within the mock cluster's 5 MiB per partition.
        const int Partitions = 2, PerPartition = 8;
        var topic = _cluster.CreateTopic("large-" + format, Partitions);
        var group = Names.Unique("g");
        var values = new Dictionary<(int Partition, long Offset), byte[]>();
        for (var p = 0; p < Partitions; p++)
        {
            for (var o = 0; o < PerPartition; o++)
            {
                values[(p, o)] = Value(p, o);
            }
        }

        await _cluster.ProduceAsync(topic, values.OrderBy(v => v.Key.Offset).Select(v => (v.Key.Partition, (byte[]?)Encoding.UTF8.GetBytes($"k{v.Key.Offset}"), (byte[]?)v.Value)));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("large", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = format, ["async_concurrency"] = 8, ["ordering"] = "none", ["max_pending_bytes"] = 500_000,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            try
            {
                await receiver.WaitForAsync(r => r.Select(x => (x.Partition, x.Offset)).Distinct().Count() >= values.Count, Patience);
            }
            catch (TimeoutException)
            {
                // Reported below by the set comparison.
            }

            await proxy.StopAsync();
        }

        var requests = receiver.Requests;
        var arrived = requests.Select(r => (r.Partition!.Value, r.Offset!.Value)).ToList();
        var missing = values.Keys.Where(k => !arrived.Contains(k)).ToList();
        var repeated = arrived.GroupBy(a => a).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(missing.Count == 0, $"never arrived: {string.Join(", ", missing.Select(m => $"{m.Partition}@{m.Offset}"))}");
        Assert.True(repeated.Count == 0, $"arrived more than once: {string.Join(", ", repeated.Select(m => $"{m.Item1}@{m.Item2}"))}");
        foreach (var request in requests)
        {
            var expected = values[(request.Partition!.Value, request.Offset!.Value)];
            Assert.Equal(request.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header("Content-Length"));
            var value = format == "form" ? request.FormValueBytes("m") : ValueOfEnvelope(request.Body);
            Assert.True(expected.AsSpan().SequenceEqual(value), $"{request}: value differs from what was produced");
        }
    }

    private static byte[] ValueOfEnvelope(ReadOnlyMemory<byte> body)
    {
        using var envelope = JsonDocument.Parse(body);
        var value = envelope.RootElement.GetProperty("value");
        return envelope.RootElement.TryGetProperty("value_encoding", out _) ? value.GetBytesFromBase64() : Encoding.UTF8.GetBytes(value.GetString()!);
    }

    // Odd offsets: bytes a form body escapes and a JSON envelope holds as base64; even: text with escapes and
    // multi-byte characters.
    private static byte[] Value(int partition, int offset)
    {
        var length = 150_000 + (offset * 7_000) + partition;
        if (offset % 2 == 1)
        {
            return [.. Enumerable.Range(0, length).Select(i => (byte)((i * 31) + offset))];
        }

        var unit = Encoding.UTF8.GetBytes($"p{partition} o{offset} \"é€😀\"&=+\n");
        return [.. Enumerable.Repeat(unit, (length / unit.Length) + 1).SelectMany(b => b)];
    }
}
