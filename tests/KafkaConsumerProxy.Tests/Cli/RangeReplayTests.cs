using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Cli;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// <c>kcp replay</c>: while the route runs, a range of its topic is delivered again to another URL or to its own
/// endpoint, marked <c>Kcp-Replay</c>, and the live group neither repeats nor moves.
/// </summary>
public sealed class RangeReplayTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public RangeReplayTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Replay_Partition0Offsets2To9_WhileLive_ToASecondEndpointThenToItsOwn_Issue21()
    {
        var topic = _cluster.CreateTopic("replay-live", 2);
        var group = Names.Unique("g");
        await using var live = await RecordingReceiver.StartAsync();
        await using var shadow = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("rr", topic, group, live.Port);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 12).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"a{i}"))));
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 3).Select(i => (1, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"b{i}"))));
        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c[0] == 12 && c[1] == 3, "the live route delivering and committing all 15", Patience);
        Assert.Equal(15, live.Requests.Accepted().Count());

        await using (var replay = KcpProcess.Start("replay", "--config", config.ConfigFile, "rr", "--partition", "0", "--from-offset", "2", "--to-offset", "9", "--endpoint", shadow.Url("/shadow").ToString()))
        {
            Assert.True(await replay.WaitForExitAsync(Patience) == 0, replay.Tail());
            Assert.Contains(replay.StdOut, l => l.Contains($"of route rr: topic {topic}, 8 offset(s): partition 0 offsets 2..9 to {shadow.Url("/shadow")}", StringComparison.Ordinal));
            Assert.Contains(replay.StdOut, l => l.Contains("done: 8 sent, 8 accepted, 0 failed, 0 skipped", StringComparison.Ordinal));
        }

        var replayed = shadow.Requests;
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L], replayed.Select(r => r.Offset!.Value));
        var id = replayed[0].Header("Kcp-Replay");
        Assert.Matches("^[0-9a-f]{12}$", id);
        Assert.All(replayed, r =>
        {
            Assert.Equal("/shadow", r.Path);
            Assert.Equal(id, r.Header("Kcp-Replay"));
            Assert.Equal(topic, r.Header("X-Kafka-Topic"));
            Assert.Equal("0", r.Header("X-Kafka-Partition"));
            Assert.Equal($"a{r.Offset}", r.FormValue("m"));
        });

        // The live route keeps delivering new messages; it repeated none and its group's offsets moved only for them.
        await _cluster.ProduceAsync(topic, [(1, null, Encoding.UTF8.GetBytes("b3"))]);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c[1] == 4, "the live route delivering a new message", Patience);
        Assert.Equal(16, live.Requests.Count);
        Assert.Equal(12, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 2)[0]);

        // To the route's own endpoint, with the --route spelling and --json: the same 8, marked, once more.
        await using (var own = KcpProcess.Start("replay", "--config", config.ConfigFile, "--route", "rr", "--partition", "0", "--from-offset", "2", "--to-offset", "9", "--json"))
        {
            Assert.True(await own.WaitForExitAsync(Patience) == 0, own.Tail());
            using var doc = JsonDocument.Parse(string.Join('\n', own.StdOut));
            Assert.Equal("done", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal(8, doc.RootElement.GetProperty("accepted").GetInt64());
            Assert.Equal(0, doc.RootElement.GetProperty("resume").GetArrayLength());
        }

        var again = live.Requests.Where(r => r.Header("Kcp-Replay") is not null).ToList();
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L], again.Select(r => r.Offset!.Value));
        Assert.All(again, r => Assert.Equal("/consume", r.Path));
        Assert.Equal(16, live.Requests.Count(r => r.Header("Kcp-Replay") is null));
        Assert.Equal(new Dictionary<int, long> { [0] = 12, [1] = 4 }, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 2));
    }

    [Fact]
    public async Task Replay_CtrlC_StopsAndPrintsTheCommandThatResumes_FailuresExit3_Issue21()
    {
        var topic = _cluster.CreateTopic("replay-stop", 1);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 6).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        var failing = 1;
        await using var endpoint = await RecordingReceiver.StartAsync(r => Volatile.Read(ref failing) == 1 && r.Offset == 3 ? Fault.Status(500) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // Retried for long enough to be interrupted; with retry_nums 1 below, given up on and reported as failed.
        config.AddRoute("r", topic, Names.Unique("g"), endpoint.Port, new Dictionary<string, object> { ["retry_nums"] = 1_000_000 });

        string resume;
        await using (var replay = KcpProcess.Start("replay", "--config", config.ConfigFile, "r", "--from-offset", "1", "--to-offset", "4"))
        {
            await endpoint.WaitForAsync(r => r.Count(q => q.Offset == 3) >= 3, Patience);
            replay.SendSignal(KcpProcess.SigInt);
            Assert.True(await replay.WaitForExitAsync(Patience) == ReplayCommand.Interrupted, replay.Tail());
            Assert.True(replay.StdOut.Any(l => l.Contains("cancelled: 2 sent, 2 accepted, 0 failed", StringComparison.Ordinal)), replay.Tail());
            resume = replay.StdOut.SkipWhile(l => l != "to resume:").Skip(1).Single().Trim();
        }

        Assert.Equal($"kcp replay --config {config.ConfigFile} r --partition 0 --from-offset 3 --to-offset 4", resume);
        Volatile.Write(ref failing, 0);
        await using (var resumed = KcpProcess.Start(resume.Split(' ').Skip(1).ToArray()))
        {
            Assert.True(await resumed.WaitForExitAsync(Patience) == 0, resumed.Tail());
        }

        Assert.Equal([1L, 2L, 3L, 4L], endpoint.Requests.Accepted().Select(r => r.Offset!.Value));

        // A message still failing after retry_nums is given up on: counted, recorded, exit 3; the rest is delivered.
        Volatile.Write(ref failing, 1);
        config.AddRoute("r", topic, Names.Unique("g"), endpoint.Port, new Dictionary<string, object> { ["retry_nums"] = 1 });
        await using (var failed = KcpProcess.Start("replay", "--config", config.ConfigFile, "r", "--from-offset", "2", "--to-offset", "5"))
        {
            Assert.True(await failed.WaitForExitAsync(Patience) == ReplayCommand.SomeFailed, failed.Tail());
            Assert.Contains(failed.StdOut, l => l.Contains("done: 4 sent, 3 accepted, 1 failed, 0 skipped", StringComparison.Ordinal));
        }

        var record = Assert.Single(File.ReadAllLines(Path.Combine(config.StateDir, "replay", StateDirLayout.SkipLogFile)));
        Assert.Contains("\"offset\":3", record, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_TimeRangeAndDryRun_ExactByTimestamp_OnTheMockCluster_Issue21()
    {
        // The mock cluster answers "none" to every time lookup, so this checks the timestamp filter, not the time index.
        var topic = _cluster.CreateTopic("replay-time", 2);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 4).Select(i => (i % 2, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await using var endpoint = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, Names.Unique("g"), endpoint.Port);
        var loaded = ConfigLoader.Load(config.ConfigFile);
        var route = loaded.Routes.Single();
        var replay = new RangeReplay(loaded, route, NullLogger.Instance, TimeProvider.System);

        async Task<ReplayStatus> RunAsync(ReplayRequest request)
        {
            var progress = new ReplayProgress(ReplayProgress.NewId(), route.Name, request, RangeReplay.TargetOf(route, request), TimeProvider.System);
            replay.Plan(progress);
            await replay.RunAsync(progress, CancellationToken.None);
            return progress.Snapshot();
        }

        var later = await RunAsync(new ReplayRequest { FromTime = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.Equal((ReplayState.Done, 0L, 4L), (later.State, later.Sent, later.OutsideTimeRange));
        var dry = await RunAsync(new ReplayRequest { FromOffset = 0, DryRun = true });
        Assert.Equal((ReplayState.Done, 4L, 0L), (dry.State, dry.Total, dry.Sent));
        Assert.Empty(endpoint.Requests);

        var all = await RunAsync(new ReplayRequest { FromTime = DateTimeOffset.UtcNow.AddHours(-1), ToTime = DateTimeOffset.UtcNow.AddMinutes(1), Partitions = [1] });
        Assert.Equal((ReplayState.Done, 2L, 2L), (all.State, all.Sent, all.Accepted));
        Assert.Equal([(1, 0L), (1, 1L)], endpoint.Requests.Select(r => (r.Partition!.Value, r.Offset!.Value)));

        var missing = new ReplayProgress("x", route.Name, new ReplayRequest { FromOffset = 0, Partitions = [7] }, "", TimeProvider.System);
        Assert.Equal($"--partition 7: topic {topic} has partitions 0..1", Assert.Throws<ReplayException>(() => replay.Plan(missing)).Message);
    }

    [Theory]
    [InlineData("replay r --from-offset 1 --from-time 2026-01-01T00:00:00Z", "kcp replay: give exactly one of --from-offset and --from-time")]
    [InlineData("replay r --from-offset 5 --to-offset 3", "kcp replay: --from-offset 5 is after --to-offset 3; nothing would be replayed")]
    [InlineData("replay r --from-offset 1 --endpoint ftp://x/", "kcp replay: --endpoint 'ftp://x/' is not an http:// or https:// URL with a host")]
    [InlineData("replay nope --from-offset 1", "kcp replay: 'nope' is not a route of")]
    public async Task Replay_BadArguments_OneLineAndExitCode2_Issue21(string arguments, string expected)
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", "t", "g", 8080);
        await using var kcp = KcpProcess.Start([.. arguments.Split(' '), "--config", config.ConfigFile]);
        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.StartsWith(expected, kcp.StdErr.First(l => l.Length > 0), StringComparison.Ordinal);
    }
}
