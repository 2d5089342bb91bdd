using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary><c>POST /api/v1/routes/{route}/seek</c> against the real process: a replay is delivered, not filtered.</summary>
public sealed class SeekTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public SeekTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Seek_ToAnOffsetAndToEarliest_ReplaysAreDelivered_BadRequestsRefused_Issue9()
    {
        var topic = _cluster.CreateTopic("seek", 2);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // Mode 3 keeps a trusted local record, the strongest repeat filter: a seek must get past it.
        config.AddRoute("replay", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["message_delivery_guarantees"] = 3 });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 10).Select(i => (i % 2, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 10, Patience);

        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/replay/seek", tweak: r => r.Content = Json("""{"partition": 0, "offset": 2}"""));
        Assert.True(status == 200, body);
        using (var doc = JsonDocument.Parse(body))
        {
            var move = Assert.Single(doc.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(0, move.GetProperty("partition").GetInt32());
            Assert.Equal(2, move.GetProperty("to").GetInt64());
        }

        // Offsets 2, 3, 4 of partition 0 come again.
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 13, Patience);
        var again = receiver.Requests.Accepted().Skip(10).Select(r => (r.Partition, r.Offset)).ToList();
        Assert.Equal([(0, 2L), (0, 3L), (0, 4L)], again);

        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/replay/seek", tweak: r => r.Content = Json("""{"position": "earliest"}"""));
        Assert.True(status == 200, body);
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 23, Patience);
        Assert.Equal(10, receiver.Requests.Accepted().Skip(13).Select(r => (r.Partition, r.Offset)).Distinct().Count());

        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/replay/seek", tweak: r => r.Content = Json("""{"offset": 99}"""));
        Assert.True(status == 400, body);
        Assert.Contains("outside", body, StringComparison.Ordinal);
        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/replay/seek", tweak: r => r.Content = Json("""{"position": "middle"}"""));
        Assert.True(status == 400, body);
        Assert.Contains(kcp.StdOut, l => l.Contains("moved by an operator's seek from", StringComparison.Ordinal));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}
