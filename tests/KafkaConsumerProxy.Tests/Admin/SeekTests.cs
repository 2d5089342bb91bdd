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

    [Fact]
    public async Task Seek_RefusedTarget_MovesNothing_UnknownPartitionIs404_Issue23()
    {
        var topic = _cluster.CreateTopic("seek-refused", 2);
        // Partition 0 is blocked at offset 2 until the end of the test.
        var blocked = true;
        await using var receiver = await RecordingReceiver.StartAsync(r => Volatile.Read(ref blocked) && r.Partition == 0 && r.Offset == 2 ? Fault.Status(500) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 20).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"a{i}"))));
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 5).Select(i => (1, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"b{i}"))));
        await receiver.WaitForAsync(r => r.Count(q => q.Partition == 0 && q.Offset == 2) >= 2 && r.Accepted().Count(q => q.Partition == 1) >= 5, Patience);

        // Partition 0 could go to 10, partition 1 could not: neither moves.
        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"offset": 10}"""));
        Assert.Equal(400, status);
        Assert.Equal("offset 10 is outside partition 1's log 0..5; nothing moved", Error(body));

        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"partition": 7, "offset": 0}"""));
        Assert.Equal(404, status);
        Assert.Equal("route r1: its topic has no partition 7; its partitions: 0, 1 (owned by this process: 0, 1); nothing moved", Error(body));

        Volatile.Write(ref blocked, false);
        await receiver.WaitForAsync(r => r.Accepted().Count(q => q.Partition == 0) >= 20, Patience);
        var delivered = receiver.Requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value)).ToHashSet();
        Assert.Equal(Log(0, 20).Concat(Log(1, 5)).ToHashSet(), delivered);
        Assert.Empty(SkipRecords(config));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Seek_ForwardPastUnfinished_RefusedWithoutForce_SkipsEachWithForce_Issue23()
    {
        var topic = _cluster.CreateTopic("seek-forward", 1);
        // Offset 22 never succeeds: the partition is blocked there with 23..30 fetched behind it.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 22, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 31).Select(i => (0, (byte[]?)Encoding.UTF8.GetBytes($"k{i}"), (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Count(q => q.Offset == 22) >= 2, Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", j => j.GetProperty("partitions").EnumerateArray().Any(p => p.GetProperty("next_offset").GetInt64() == 31), "partition 0 fetched to 31", Patience);

        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"partition": 0, "offset": 25}"""));
        Assert.Equal(409, status);
        Assert.Equal("partition 0: offsets 22-24 are not finished (delivered or skipped); a seek to 25 would pass them: seek to 22 or earlier, or give \"force\": true to record each of them as skipped (kind seek); nothing moved", Error(body));
        Assert.Empty(SkipRecords(config));

        (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"partition": 0, "offset": 25, "force": true}"""));
        Assert.Equal(200, status);
        using (var doc = JsonDocument.Parse(body))
        {
            var move = Assert.Single(doc.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(22, move.GetProperty("from").GetInt64());
            Assert.Equal(25, move.GetProperty("to").GetInt64());
            Assert.Equal([22L, 23, 24], move.GetProperty("skipped").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(0, move.GetProperty("unread").GetInt64());
        }

        await receiver.WaitForAsync(r => r.Accepted().Any(q => q.Offset == 30), Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", j => j.GetProperty("partitions").EnumerateArray().Any(p => p.GetProperty("committed_offset").GetInt64() == 31), "partition 0 committed at 31", Patience);
        var skipped = SkipRecords(config);
        Assert.All(skipped, s => Assert.Equal("seek", s.GetProperty("kind").GetString()));
        Assert.All(skipped, s => Assert.False(string.IsNullOrEmpty(s.GetProperty("by").GetString())));
        Assert.Equal(["k22", "k23", "k24"], skipped.Select(s => s.GetProperty("key").GetString()));
        var skippedOffsets = skipped.Select(s => (0, s.GetProperty("offset").GetInt64())).ToList();
        var delivered = receiver.Requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value)).ToHashSet();
        Assert.Equal([(0, 22L), (0, 23L), (0, 24L)], skippedOffsets);
        // Every offset of the log is delivered or recorded as skipped; none both.
        Assert.Equal(Log(0, 31).ToHashSet(), delivered.Concat(skippedOffsets).ToHashSet());
        Assert.Empty(delivered.Intersect(skippedOffsets));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Skip_FailingBatch_AnswerNamesEveryOffsetItCovers_Issue23()
    {
        var topic = _cluster.CreateTopic("skip-batch", 1);
        var failing = true;
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref failing) ? Fault.Status(500) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // The three messages are in the log before kcp starts and the linger is long: they form one batch.
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 3).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        config.AddRoute("b1", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["format"] = "json", ["batch_size"] = 10, ["batch_linger_ms"] = 500 });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        var route = await admin.WaitForJsonAsync("/api/v1/routes/b1", j => j.GetProperty("partitions").EnumerateArray()
            .Any(p => p.GetProperty("failing").ValueKind == JsonValueKind.Object), "a failing batch", Patience);
        var shown = route.GetProperty("partitions")[0].GetProperty("failing");
        Assert.Equal(0, shown.GetProperty("offset").GetInt64());
        Assert.Equal([0L, 1, 2], shown.GetProperty("offsets").EnumerateArray().Select(e => e.GetInt64()));

        var (status, body) = await admin.PostAsync("/api/v1/routes/b1/partitions/0/skip?offset=0");
        Assert.True(status == 200, body);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal("skipped", doc.RootElement.GetProperty("result").GetString());
            Assert.Equal([0L, 1, 2], doc.RootElement.GetProperty("offsets").EnumerateArray().Select(e => e.GetInt64()));
        }

        Volatile.Write(ref failing, false);
        await _cluster.ProduceAsync(topic, [(0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes("m3"))]);
        await receiver.WaitForAsync(r => r.Accepted().Any(), Patience);
        Assert.Equal([0L, 1, 2], SkipRecords(config).Select(s => s.GetProperty("offset").GetInt64()));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Seek_ForcedOnAsyncRoute_SkipsOnlyTheUnfinished_RepeatsNothingFinishedAhead_Issue23()
    {
        var topic = _cluster.CreateTopic("seek-async", 1);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 22, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 4, ["ordering"] = "none" });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 31).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        // 23..30 are delivered while 22 keeps failing.
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 30 && r.Count(q => q.Offset == 22) >= 2, Patience);

        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"position": "latest", "force": true}"""));
        Assert.True(status == 200, body);
        using (var doc = JsonDocument.Parse(body))
        {
            var move = Assert.Single(doc.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(22, move.GetProperty("from").GetInt64());
            Assert.Equal(31, move.GetProperty("to").GetInt64());
            Assert.Equal([22L], move.GetProperty("skipped").EnumerateArray().Select(e => e.GetInt64()));
        }

        await _cluster.ProduceAsync(topic, Enumerable.Range(31, 5).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Accepted().Any(q => q.Offset == 35), Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", j => j.GetProperty("partitions").EnumerateArray().Any(p => p.GetProperty("committed_offset").GetInt64() == 36), "partition 0 committed at 36", Patience);
        var skipped = SkipRecords(config).Select(s => (0, s.GetProperty("offset").GetInt64())).ToList();
        var delivered = receiver.Requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value)).ToList();
        Assert.Equal([(0, 22L)], skipped);
        // Each offset delivered once or recorded as skipped: nothing finished ahead of 22 came again.
        Assert.Equal(delivered.Count, delivered.Distinct().Count());
        Assert.Equal(Log(0, 36).ToHashSet(), delivered.Concat(skipped).ToHashSet());

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Seek_ForcedBeyondTheFetchPosition_SkipsTheFetchedAndReportsTheUnread_Issue23()
    {
        var topic = _cluster.CreateTopic("seek-beyond", 1);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 5, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // max_pending 4: fetching pauses a few messages behind the blocked one, far from the target.
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["max_pending"] = 4 });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 60).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Count(q => q.Offset == 5) >= 2, Patience);

        var (status, body) = await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/seek", tweak: r => r.Content = Json("""{"partition": 0, "offset": 40, "force": true}"""));
        Assert.True(status == 200, body);
        List<(int, long)> reported;
        long unread;
        using (var doc = JsonDocument.Parse(body))
        {
            var move = Assert.Single(doc.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(5, move.GetProperty("from").GetInt64());
            Assert.Equal(40, move.GetProperty("to").GetInt64());
            reported = [.. move.GetProperty("skipped").EnumerateArray().Select(e => (0, e.GetInt64()))];
            unread = move.GetProperty("unread").GetInt64();
        }

        Assert.True(unread > 0, body);
        Assert.Equal(Log(0, 40).Skip(5).Take(35 - (int)unread), reported);
        await receiver.WaitForAsync(r => r.Accepted().Any(q => q.Offset == 59), Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", j => j.GetProperty("partitions").EnumerateArray().Any(p => p.GetProperty("committed_offset").GetInt64() == 60), "partition 0 committed at 60", Patience);
        var skipped = SkipRecords(config).Select(s => (0, s.GetProperty("offset").GetInt64())).ToList();
        Assert.Equal(reported, skipped);
        var delivered = receiver.Requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value)).ToList();
        var passedUnread = Enumerable.Range(40 - (int)unread, (int)unread).Select(o => (0, (long)o)).ToList();
        // Every offset is delivered once, recorded as skipped, or one of the unread the answer counted: no other gap.
        Assert.Equal(delivered.Count, delivered.Distinct().Count());
        Assert.Equal(Log(0, 60).ToHashSet(), delivered.Concat(skipped).Concat(passedUnread).ToHashSet());
        Assert.Empty(delivered.Intersect(skipped.Concat(passedUnread)));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static string? Error(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("error").GetString();
    }

    private static IEnumerable<(int, long)> Log(int partition, int count) => Enumerable.Range(0, count).Select(o => (partition, (long)o));

    private static List<JsonElement> SkipRecords(ProxyConfigWriter config) =>
        File.Exists(config.SkipFile)
            ? [.. File.ReadAllLines(config.SkipFile).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())]
            : [];

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}
