using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// <c>kcp dlq replay</c>: a live run skips messages into the dead-letter topic, then the replay delivers the chosen
/// range to a real endpoint, once, as the original messages with <c>X-Kafka-Replay: true</c>.
/// </summary>
public sealed class DlqReplayTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public DlqReplayTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Replay_FromOffset_DeliversExactlyThatRangeOnce_ThenNothingMore_Issue10()
    {
        var (config, topic, dlq, group) = await DeadLetterFiveAsync("replay-range");
        using var _ = config;
        await using var endpoint = await RecordingReceiver.StartAsync();
        config.AddRoute("r", topic, group, endpoint.Port, RouteKeys(dlq));

        await using (var dryRun = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r", "--from-offset", "2", "--dry-run"))
        {
            Assert.Equal(0, await dryRun.WaitForExitAsync(Patience));
            Assert.Contains(dryRun.StdOut, l => l.Contains($"{topic}/0@2, kind auto, attempts 1, last failure: HTTP 500", StringComparison.Ordinal));
            Assert.Contains(dryRun.StdOut, l => l.Contains("dry run: 3 message(s) would be replayed", StringComparison.Ordinal));
        }

        Assert.Empty(endpoint.Requests);
        await using (var replay = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r", "--partition", "0", "--from-offset", "2"))
        {
            Assert.Equal(0, await replay.WaitForExitAsync(Patience));
            Assert.Contains(replay.StdOut, l => l.Contains($"group {group}.dlq-replay, 3 message(s) in range: partition 0 offsets 2..4", StringComparison.Ordinal));
            Assert.Contains(replay.StdOut, l => l.Contains("done: 3 delivered, 0 failed again", StringComparison.Ordinal));
        }

        var requests = endpoint.Requests;
        Assert.Equal([2L, 3L, 4L], requests.Select(r => r.Offset!.Value));
        Assert.All(requests, r =>
        {
            Assert.Equal("true", r.Header("X-Kafka-Replay"));
            Assert.Equal(topic, r.Header("X-Kafka-Topic"));
            Assert.Equal("0", r.Header("X-Kafka-Partition"));
            Assert.Equal($"0-{r.Offset}", r.FormValue("m"));
        });

        // The replay group remembers where it stopped: the next replay has nothing left. The live group is untouched.
        await using (var again = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r"))
        {
            Assert.Equal(0, await again.WaitForExitAsync(Patience));
            Assert.Contains(again.StdOut, l => l.Contains("0 message(s) in range", StringComparison.Ordinal));
        }

        Assert.Equal(3, endpoint.Requests.Count);
        Assert.Equal(5, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task Replay_FailsAgain_StaysInTheDeadLetterTopic_ExitCode3_Issue10()
    {
        var (config, topic, dlq, group) = await DeadLetterFiveAsync("replay-fail");
        using var _ = config;
        await using var endpoint = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 3, Fault.Status(500)));
        config.AddRoute("r", topic, group, endpoint.Port, RouteKeys(dlq));

        await using (var replay = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r"))
        {
            Assert.Equal(3, await replay.WaitForExitAsync(Patience));
            Assert.Contains(replay.StdOut, l => l.Contains("partition 0 offset 3: failed again, stays in the dead-letter topic", StringComparison.Ordinal));
            Assert.Contains(replay.StdOut, l => l.Contains("done: 4 delivered, 1 failed again", StringComparison.Ordinal));
        }

        Assert.Equal([0L, 1L, 2L, 4L], endpoint.Requests.Accepted().Select(r => r.Offset!.Value));
        Assert.Equal(5, DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1).Count);
        Assert.Single(File.ReadAllLines(Path.Combine(config.StateDir, "dlq-replay", StateDirLayout.SkipLogFile)));
    }

    [Fact]
    public async Task Replay_TimeRange_OnlyMessagesDeadLetteredWithinIt_Issue10()
    {
        var (config, topic, dlq, group) = await DeadLetterFiveAsync("replay-time");
        using var _ = config;
        await using var endpoint = await RecordingReceiver.StartAsync();
        config.AddRoute("r", topic, group, endpoint.Port, RouteKeys(dlq));
        var loaded = KafkaConsumerProxy.Configuration.ConfigLoader.Load(config.ConfigFile);
        var route = loaded.Routes.Single();
        var lines = new List<string>();
        var replay = new DeadLetterReplay(loaded, route, lines.Add, NullLogger.Instance, TimeProvider.System);

        // All five were dead-lettered before now: a range starting in an hour holds none. The mock cluster answers
        // "none" to the offset-for-time lookup, so the replay reads from the beginning and the time check decides.
        var later = await replay.RunAsync(new ReplayRange(FromTime: DateTimeOffset.UtcNow.AddHours(1)), CancellationToken.None);
        Assert.Equal(new ReplaySummary(0, 0, 5, 0), later);
        Assert.Empty(endpoint.Requests);

        // The time filter moved the replay group past them; from offset 0 with a range that holds them all.
        var all = await replay.RunAsync(new ReplayRange(FromOffset: 0, FromTime: DateTimeOffset.UtcNow.AddHours(-1), ToTime: DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);
        Assert.Equal(new ReplaySummary(5, 0, 0, 0), all);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], endpoint.Requests.Select(r => r.Offset!.Value));
    }

    [Fact]
    public async Task Replay_BadArguments_RefusedWithExitCode2_RouteWithoutDeadLetterTopicWith4_Issue10()
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", "t", "g", 8080, RouteKeys("t.dlq"));
        config.AddRoute("plain", "t2", "g", 8080);

        await using (var both = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r", "--from-offset", "1", "--from-time", "2026-01-01T00:00:00Z"))
        {
            Assert.Equal(2, await both.WaitForExitAsync(Patience));
            Assert.Contains(both.StdErr, l => l.Contains("give at most one of --from-offset and --from-time", StringComparison.Ordinal));
        }

        await using (var noDlq = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "plain"))
        {
            Assert.Equal(4, await noDlq.WaitForExitAsync(Patience));
            Assert.Contains(noDlq.StdErr, l => l.Contains("route 'plain' has no dead_letter_topic", StringComparison.Ordinal));
        }

        await using (var badTime = KcpProcess.Start("dlq", "replay", "--config", config.ConfigFile, "--route", "r", "--to-time", "yesterday"))
        {
            Assert.Equal(2, await badTime.WaitForExitAsync(Patience));
            Assert.Contains(badTime.StdErr, l => l.Contains("--to-time 'yesterday' is not a date and time with offset", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("dlq replay --route r --rate abc", "kcp dlq replay: --rate 'abc' is not a whole number from 1 to 1000000")]
    [InlineData("dlq replay --route r --partition x", "kcp dlq replay: --partition 'x' is not a whole number of at least 0")]
    [InlineData("dlq replay --route r --from-offset 1e3", "kcp dlq replay: --from-offset '1e3' is not a whole number of at least 0")]
    [InlineData("dlq replay --route r --from-offset -1", "kcp dlq replay: --from-offset '-1' is not a whole number of at least 0")]
    [InlineData("dlq replay --route r --from-time 2026-01-02T00:00:00Z --to-time 2026-01-01T00:00:00Z", "kcp dlq replay: --from-time 2026-01-02T00:00:00Z is after --to-time 2026-01-01T00:00:00Z; nothing would be replayed")]
    [InlineData("demo --messages many", "kcp demo: --messages 'many' is not a whole number from 1 to 10000000")]
    public async Task Arguments_UnparsableNumberOrReversedTimes_OneLineNamingOptionAndValue_ExitCode2_Issue23(string arguments, string expected)
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", "t", "g", 8080, RouteKeys("t.dlq"));
        var args = arguments.Split(' ');
        if (args[0] == "dlq")
        {
            args = [.. args, "--config", config.ConfigFile];
        }

        await using var kcp = KcpProcess.Start(args);
        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        var line = Assert.Single(kcp.StdErr, l => l.Length > 0);
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
    }

    private static Dictionary<string, object> RouteKeys(string dlq) => new()
    {
        ["can_skip"] = true,
        ["retry_nums"] = 0,
        ["dead_letter_topic"] = dlq,

        // The live run dead-letters every message an always-failing endpoint refuses; a circuit breaker would hold them
        // as an outage instead (its own tests are CircuitBreakerTests and CircuitBreakerEndToEndTests).
        ["breaker_failures"] = 0,
    };

    /// <summary>Five messages of a fresh topic, each skipped into a fresh dead-letter topic by a live run; the route file is removed again.</summary>
    private async Task<(ProxyConfigWriter Config, string Topic, string Dlq, string Group)> DeadLetterFiveAsync(string name)
    {
        var topic = _cluster.CreateTopic(name, 1);
        var dlq = _cluster.CreateTopic(name + "-dlq", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 5));
        var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        await using (var failing = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Status(500))))
        {
            var file = config.AddRoute("r", topic, group, failing.Port, RouteKeys(dlq));
            await using var proxy = InProcessProxy.Start(config.ConfigFile);
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 5, "the live run skipping all five into the dead-letter topic", Patience);

            await proxy.StopAsync();
            File.Delete(file);
        }

        return (config, topic, dlq, group);
    }
}
