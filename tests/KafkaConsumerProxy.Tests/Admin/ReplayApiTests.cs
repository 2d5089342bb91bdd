using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary><c>/api/v1/routes/{route}/replays</c> of a running kcp: a replay runs beside the live route, is watched, cancelled and audited.</summary>
public sealed class ReplayApiTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public ReplayApiTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Replays_StartWatchCancel_WhileTheRouteRuns_Audited_Issue21()
    {
        var topic = _cluster.CreateTopic("replay-api", 1);
        var group = Names.Unique("g");
        await using var live = await RecordingReceiver.StartAsync();
        var holding = 1;
        await using var shadow = await RecordingReceiver.StartAsync(r => r.Path == "/held" && Volatile.Read(ref holding) == 1 ? Fault.Status(503) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("rr", topic, group, live.Port, new Dictionary<string, object> { ["retry_nums"] = 1_000_000 });
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 12).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"a{i}"))));
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 12, "the live route delivering all 12", Patience);

        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/rr/replays",
            tweak: r => r.Content = Json($$"""{"partitions": [0], "from_offset": 2, "to_offset": 9, "endpoint": "{{shadow.Url("/shadow")}}"}"""));
        Assert.True(status == 202, body);
        var id = Field(body, "id");
        Assert.Equal(8, long.Parse(Field(body, "total"), System.Globalization.CultureInfo.InvariantCulture));
        body = await Eventually.ValueAsync(async () => (await admin.SendAsync(HttpMethod.Get, $"/api/v1/routes/rr/replays/{id}")).Body, b => Field(b, "state") == "done", "the replay done", Patience, b => b);
        Assert.Equal(("8", "8", "0"), (Field(body, "sent"), Field(body, "accepted"), Field(body, "failed")));
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L], shadow.Requests.Select(r => r.Offset!.Value));
        Assert.All(shadow.Requests, r => Assert.Equal(id, r.Header("Kcp-Replay")));

        // A replay held by its endpoint is cancelled; its status says where it stopped.
        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/rr/replays",
            tweak: r => r.Content = Json($$"""{"partition": 0, "from_offset": 5, "endpoint": "{{shadow.Url("/held")}}"}"""));
        Assert.True(status == 202, body);
        var held = Field(body, "id");
        await shadow.WaitForAsync(r => r.Count(q => q.Path == "/held") >= 2, Patience);
        (status, body) = await admin.SendAsync(HttpMethod.Delete, $"/api/v1/routes/rr/replays/{held}");
        Assert.True(status == 200, body);
        // The answer waits up to 5 s for the replay to end; on a busy machine it may still be ending then.
        if (Field(body, "state") == "running")
        {
            body = await Eventually.ValueAsync(async () => (await admin.SendAsync(HttpMethod.Get, $"/api/v1/routes/rr/replays/{held}")).Body, b => Field(b, "state") != "running", "the cancelled replay ended", Patience, b => b);
        }

        Assert.Equal("cancelled", Field(body, "state"));
        using (var doc = JsonDocument.Parse(body))
        {
            var partition = Assert.Single(doc.RootElement.GetProperty("partitions").EnumerateArray());
            Assert.Equal((5L, 12L), (partition.GetProperty("next").GetInt64(), partition.GetProperty("end").GetInt64()));
        }

        (status, body) = await admin.SendAsync(HttpMethod.Get, "/api/v1/routes/rr/replays");
        Assert.True(status == 200, body);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal([id, held], doc.RootElement.GetProperty("replays").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        }

        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/rr/replays", tweak: r => r.Content = Json("""{"to_offset": 3}"""));
        Assert.Equal(400, status);
        Assert.Equal("give exactly one of from_offset and from_time", Field(body, "error"));
        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/rr/replays", tweak: r => r.Content = Json("""{"from_offset": 0, "partitions": [3]}"""));
        Assert.Equal(400, status);
        Assert.Equal($"--partition 3: topic {topic} has partitions 0..0", Field(body, "error"));
        (status, _) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/nope/replays", tweak: r => r.Content = Json("""{"from_offset": 0}"""));
        Assert.Equal(404, status);

        // The live route repeated nothing and its group did not move.
        Assert.Equal(12, live.Requests.Count);
        Assert.Equal(12, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        var audit = await File.ReadAllLinesAsync(Path.Combine(config.StateDir, "audit.jsonl"));
        Assert.Contains(audit, l => l.Contains("\"POST\"", StringComparison.Ordinal) && l.Contains("/api/v1/routes/rr/replays", StringComparison.Ordinal) && l.Contains("\"status\":202", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.Contains("\"DELETE\"", StringComparison.Ordinal) && l.Contains($"/api/v1/routes/rr/replays/{held}", StringComparison.Ordinal));
        Volatile.Write(ref holding, 0);

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Field(string json, string name)
    {
        using var doc = JsonDocument.Parse(json);
        var value = doc.RootElement.GetProperty(name);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
    }
}
