using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Delivery;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// The three request formats end to end: what the endpoint receives for binary, empty and null values and keys, and
/// for record headers, compared byte for byte with what was produced.
/// </summary>
public sealed class FormatTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly byte[] Binary = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];

    // Offset 0: binary value and key with headers; 1: empty value and key; 2: tombstone without key; 3: UTF-8 text.
    private static readonly Message<byte[]?, byte[]?>[] Messages =
    [
        new()
        {
            Key = [0xFF, 0x00, 0x20], Value = Binary,
            Headers = new Headers { { "trace-id", "t 1"u8.ToArray() }, { "bin", [0x00, 0xC3, 0x28] }, { "empty", [] }, { "trace-id", "t2"u8.ToArray() } },
        },
        new() { Key = [], Value = [] },
        new() { Key = null, Value = null },
        new() { Key = "ключ"u8.ToArray(), Value = "{\"text\":\"héllo\"}\n"u8.ToArray(), Headers = new Headers { { "Ünïcode", "ü"u8.ToArray() } } },
    ];

    private readonly TestCluster _cluster;

    public FormatTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Json_BinaryEmptyNullAndText_EnvelopeDecodesToTheExactBytes()
    {
        var requests = await DeliverAsync("json", new Dictionary<string, object> { ["format"] = "json" });

        foreach (var (request, produced) in requests.Zip(Messages))
        {
            Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
            AssertKafkaHeaders(request, produced);
            using var json = JsonDocument.Parse(request.Body);
            var envelope = json.RootElement;
            Assert.Equal(request.Header("X-Kafka-Topic"), envelope.GetProperty("topic").GetString());
            Assert.Equal(0, envelope.GetProperty("partition").GetInt32());
            Assert.Equal(request.Offset, envelope.GetProperty("offset").GetInt64());
            Assert.Equal(long.Parse(request.Header("X-Kafka-Timestamp")!), envelope.GetProperty("timestamp").GetInt64());
            Assert.Equal(produced.Key, JsonEnvelopeTests.Decode(envelope, "key"));
            Assert.Equal(produced.Value, JsonEnvelopeTests.Decode(envelope, "value"));
            var headers = envelope.GetProperty("headers").EnumerateArray()
                .Select(h => (h.GetProperty("key").GetString()!, JsonEnvelopeTests.Decode(h, "value")!)).ToList();
            Assert.Equal(RecordHeaders(produced).Select(h => h.Name), headers.Select(h => h.Item1));
            Assert.Equal(RecordHeaders(produced).Select(h => h.Value), headers.Select(h => h.Item2));
            Assert.DoesNotContain(request.Headers.Keys, h => h.StartsWith("X-Kafka-Header-", StringComparison.OrdinalIgnoreCase));
        }

        using var binary = JsonDocument.Parse(requests[0].Body);
        Assert.Equal("base64", binary.RootElement.GetProperty("value_encoding").GetString());
        using var text = JsonDocument.Parse(requests[3].Body);
        Assert.Equal("{\"text\":\"héllo\"}\n", text.RootElement.GetProperty("value").GetString());
        Assert.False(text.RootElement.TryGetProperty("value_encoding", out _));
        using var tombstone = JsonDocument.Parse(requests[2].Body);
        Assert.Equal(JsonValueKind.Null, tombstone.RootElement.GetProperty("value").ValueKind);
    }

    [Fact]
    public async Task Raw_BinaryEmptyNullAndText_BodyIsTheValueAndMetadataInHeaders()
    {
        var requests = await DeliverAsync("raw", new Dictionary<string, object> { ["format"] = "raw", ["content_type"] = "application/x-protobuf" });

        foreach (var (request, produced) in requests.Zip(Messages))
        {
            Assert.Equal(produced.Value ?? [], request.Body.ToArray());
            Assert.Equal("application/x-protobuf", request.Header("Content-Type"));
            Assert.Equal(produced.Value is null ? "true" : null, request.Header("X-Kafka-Tombstone"));
            AssertKafkaHeaders(request, produced);
            AssertRecordHeadersAsHttpHeaders(request, produced);
        }
    }

    [Fact]
    public async Task Raw_NoContentType_OctetStream()
    {
        var requests = await DeliverAsync("raw-default", new Dictionary<string, object> { ["format"] = "raw" });

        Assert.All(requests, r => Assert.Equal("application/octet-stream", r.Header("Content-Type")));
    }

    [Fact]
    public async Task Form_RecordHeaders_SentAsHttpHeadersBesideTheOldBody()
    {
        var requests = await DeliverAsync("form", new Dictionary<string, object>());

        foreach (var (request, produced) in requests.Zip(Messages))
        {
            Assert.Equal(produced.Value, request.FormValueBytes("m"));
            AssertKafkaHeaders(request, produced);
            AssertRecordHeadersAsHttpHeaders(request, produced);
        }
    }

    /// <summary>Produces <see cref="Messages"/> to a new topic and returns the requests for offsets 0..3, in offset order.</summary>
    private async Task<IReadOnlyList<ReceivedRequest>> DeliverAsync(string name, Dictionary<string, object> keys)
    {
        var topic = _cluster.CreateTopic(name, 1);
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, Acks = Acks.All })
            .SetLogHandler((_, _) => { })
            .Build())
        {
            foreach (var message in Messages)
            {
                await producer.ProduceAsync(new TopicPartition(topic, 0), message);
            }
        }

        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute(name, topic, Names.Unique("g"), receiver.Port, keys);
        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForCountAsync(Messages.Length, Patience);
        return [.. receiver.Requests.OrderBy(r => r.Offset)];
    }

    private static void AssertKafkaHeaders(ReceivedRequest request, Message<byte[]?, byte[]?> produced)
    {
        Assert.Equal($"{request.Header("X-Kafka-Topic")}/0/{request.Offset}", request.Header("Idempotency-Key"));
        Assert.Equal("0", request.Header("X-Kafka-Partition"));
        Assert.True(long.Parse(request.Header("X-Kafka-Timestamp")!) > 1_700_000_000_000);
        Assert.Equal(produced.Key is null ? null : PercentDecode(request.Header("X-Kafka-Key")), produced.Key);
    }

    private static void AssertRecordHeadersAsHttpHeaders(ReceivedRequest request, Message<byte[]?, byte[]?> produced)
    {
        // HTTP joins repeated headers with ", "; percent-encoding keeps commas out of the values, so they split back.
        var received = request.Headers
            .Where(h => h.Key.StartsWith("X-Kafka-Header-", StringComparison.OrdinalIgnoreCase))
            .SelectMany(h => h.Value.Split(", ").Select(v => (Encoding.UTF8.GetString(PercentDecode(h.Key["X-Kafka-Header-".Length..])!), PercentDecode(v)!)))
            .OrderBy(h => h.Item1, StringComparer.Ordinal)
            .ToList();
        var expected = RecordHeaders(produced).OrderBy(h => h.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Select(h => h.Name.ToUpperInvariant()), received.Select(h => h.Item1.ToUpperInvariant()));
        Assert.Equal(expected.Select(h => h.Value), received.Select(h => h.Item2));
    }

    private static List<(string Name, byte[] Value)> RecordHeaders(Message<byte[]?, byte[]?> message) =>
        message.Headers is null ? [] : [.. message.Headers.Select(h => (h.Key, h.GetValueBytes()))];

    private static byte[]? PercentDecode(string? text) =>
        text is null ? null : ReceivedRequest.DecodeForm(Encoding.ASCII.GetBytes("x=" + text.Replace("+", "%2B", StringComparison.Ordinal))).Single().Value;
}
