using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// <c>kcp</c> as the operator runs it: a separate process stopped by signals, restarted, validated, sharing its group
/// with another member. What is checked is what the operator relies on: exit codes, what was delivered and committed.
/// </summary>
public sealed class ProcessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // A stop with nothing stuck takes a commit and a group leave; far below this.
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(15);

    // The mock coordinator waits session.timeout.ms - 1 s for members to (re)join once a group has had members (5 s
    // with the usual 6 s); each group change of these tests costs that wait, so they use a shorter session.
    private static readonly Dictionary<string, string> QuickRebalanceConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "2000",
    };

    private static readonly Dictionary<string, string> JoinConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "6000",
    };

    private readonly TestCluster _cluster;

    public ProcessTests(TestCluster cluster) => _cluster = cluster;

    [Theory]
    [InlineData(KcpProcess.SigTerm)]
    [InlineData(KcpProcess.SigInt)]
    public async Task Run_StopSignalAfterAllDelivered_ExitsZeroAndCommitsEndOffsets(int signal)
    {
        const int Partitions = 4, PerPartition = 10;
        var topic = _cluster.CreateTopic("stop", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("stop", topic, group, receiver.Port);
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
        kcp.SendSignal(signal);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Assert.Contains(kcp.StdOut, l => l.Contains("Stopping: finishing in-flight deliveries", StringComparison.Ordinal));
        Assert.Contains(kcp.StdOut, l => l.Contains("Route stop member 0 stopped", StringComparison.Ordinal));
        Assert.EndsWith(" Stopped", kcp.StdOut[^1], StringComparison.Ordinal);
        Assert.Empty(kcp.StdErr);
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, expected);
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task Run_SigTermWhileDeliveryInFlight_DeliveryCompletesIsCommittedAndExitsZero()
    {
        var topic = _cluster.CreateTopic("inflight", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 2, Fault.Delayed(TimeSpan.FromSeconds(1))));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("inflight", topic, group, receiver.Port);

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        // Recorded on arrival, answered a second later: the delivery is in flight now.
        await receiver.WaitForAsync(r => r.Any(x => x.Offset == 2), Patience);
        var arrived = receiver.Requests.Single(r => r.Offset == 2).ArrivedAt;
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        // Counted from the request's arrival, not from the signal: the test may see the arrival late on a busy machine.
        var exitedAfter = receiver.Now - arrived;
        Assert.True(exitedAfter >= TimeSpan.FromMilliseconds(900), $"exited {exitedAfter.TotalMilliseconds:F0} ms after the request in flight arrived, before it could have been answered (1 s)");
        Assert.Single(receiver.Requests, r => r.Offset == 2);
        Assert.Equal(3, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task Run_SigTermWhileRetryingForever_ExitsZeroPromptlyAndStuckMessageUncommitted()
    {
        var topic = _cluster.CreateTopic("stuckstop", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("stuckstop", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["retry_interval_ms"] = 200 });

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Count(x => x.Offset == 1) >= 2, Patience);
        var stopping = Stopwatch.StartNew();
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        // A stop that waited for the retries would end only at shutdown_timeout_ms (30 s); a prompt one takes a second
        // or two, more on a busy machine.
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"took {stopping.Elapsed.TotalSeconds:F1} s to stop while retrying");
        Assert.DoesNotContain(receiver.Requests.Accepted(), r => r.Offset >= 1);
        Assert.Equal(1, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        Assert.False(File.Exists(config.SkipFile) && new FileInfo(config.SkipFile).Length > 0, "a stop must not skip the stuck message");
    }

    [Fact]
    public async Task Run_SigUsr1WhileMessageRetried_SkipsOnlyThatMessageAndRecordsManualSkip()
    {
        var topic = _cluster.CreateTopic("manual", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 6));
        // Offset 2 fails forever; offset 4, reached only after the signal, fails 3 times and then succeeds.
        var laterFailures = 0;
        await using var receiver = await RecordingReceiver.StartAsync(r => r.Offset switch
        {
            2 => Fault.Status(500),
            4 when Interlocked.Increment(ref laterFailures) <= 3 => Fault.Status(503),
            _ => Fault.None,
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("manual", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["retry_interval_ms"] = 50 });

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Count(x => x.Offset == 2) >= 2, Patience);
        Assert.DoesNotContain(receiver.Requests, r => r.Offset > 2);
        kcp.SendSignal(KcpProcess.SigUsr1);

        await receiver.WaitForAsync(r => r.Accepted().Any(x => x.Offset == 5), Patience);
        await kcp.WaitForOutputAsync($"manually skipped {topic}/0@2 after", Patience);
        await kcp.WaitForOutputAsync("Manual skip requested (SIGUSR1)", Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));

        Assert.Equal([0L, 1, 3, 4, 5], receiver.Requests.Accepted().Select(r => r.Offset!.Value));
        Assert.Equal(4, receiver.Requests.Count(r => r.Offset == 4));
        var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile))).RootElement;
        Assert.Equal((topic, 0, 2L), (record.GetProperty("topic").GetString(), record.GetProperty("partition").GetInt32(), record.GetProperty("offset").GetInt64()));
        Assert.True(record.GetProperty("manual").GetBoolean());
        Assert.Equal(6, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task Run_RestartAfterGracefulStop_NothingDeliveredTwice()
    {
        const int Partitions = 2, PerBatch = 15;
        var topic = _cluster.CreateTopic("restart", Partitions);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickRebalanceConf);
        config.AddRoute("restart", topic, group, receiver.Port);
        var first = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerBatch);
        var both = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => 2 * PerBatch);

        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerBatch));
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, first, Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        }

        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerBatch));
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, both, Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        }

        Delivered.AssertExactlyOnceInOrder(receiver.Requests, both);
        Assert.Equal(both.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task Run_MemberLeavesGroupMidRun_OtherTakesOverWithNothingLostOrRepeated()
    {
        const int Partitions = 8, PerBatch = 25;
        var topic = _cluster.CreateTopic("leave", Partitions);
        var group = Names.Unique("g");
        // A little latency per request, so that deliveries are still flowing when the member leaves.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Delayed(TimeSpan.FromMilliseconds(5))));
        using var stayingConfig = MachineConfig(topic, group, receiver.Port);
        using var leavingConfig = MachineConfig(topic, group, receiver.Port);
        Task ProduceBatchAsync() => _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerBatch));

        await using var staying = InProcessProxy.Start(stayingConfig.ConfigFile);
        await using var leaving = InProcessProxy.Start(leavingConfig.ConfigFile);
        // Both hold partitions before anything is produced: the only move of a partition with progress is the leave.
        await staying.WaitForLogAsync("partitions assigned", Patience);
        await leaving.WaitForLogAsync("partitions assigned", Patience);
        await ProduceBatchAsync();
        await ProduceBatchAsync();
        await receiver.WaitForAsync(r => r.Accepted().Count() >= PerBatch * Partitions * 3 / 2, Patience);
        await ProduceBatchAsync();
        await leaving.StopAsync();
        // Produced after the leave, so every partition's last batch can only be delivered by the member that stayed.
        await ProduceBatchAsync();
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerBatch * 4);
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
        await staying.StopAsync();

        AssertNoOffsetAcceptedTwice(receiver.Requests);
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, expected);
        Assert.Contains(leaving.Logs, l => l.Contains("partitions revoked", StringComparison.Ordinal));
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task Run_MemberJoinsGroupMidRun_RevokedPartitionsNotDeliveredAgainUnlessTheGroupRefusedTheirCommit()
    {
        const int Partitions = 8, PerBatch = 25;
        var topic = _cluster.CreateTopic("join", Partitions);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Delayed(TimeSpan.FromMilliseconds(5))));
        // No member leaves here, so nothing waits out a session timeout: a long one keeps a member that a loaded machine
        // starves for a moment from losing its partitions (lost partitions are not committed, and repeat by design).
        using var firstConfig = MachineConfig(topic, group, receiver.Port, JoinConf);
        using var joiningConfig = MachineConfig(topic, group, receiver.Port, JoinConf);
        Task ProduceBatchAsync() => _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerBatch));

        await ProduceBatchAsync();
        await ProduceBatchAsync();
        await using var first = InProcessProxy.Start(firstConfig.ConfigFile);
        await receiver.WaitForAsync(r => r.Accepted().Count() >= PerBatch * Partitions / 2, Patience);
        // Joins while the first member is delivering: half of its partitions are revoked with progress not yet committed.
        await using var joining = InProcessProxy.Start(joiningConfig.ConfigFile);
        await joining.WaitForLogAsync("partitions assigned", Patience);
        await ProduceBatchAsync();
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerBatch * 3);
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
        await joining.StopAsync();
        await first.StopAsync();

        // The embedded cluster refuses every commit while its group is joining (a real broker accepts a commit of the
        // current generation then), and a join lasts the session timeout less 1 s. It also completes a sync on the
        // leader's SyncGroup alone and answers a follower's SyncGroup that arrives after it with "invalid request", so
        // the follower joins again at once: seen with librdkafka's debug log, the joining member's first sync failed
        // that way and the revoked partitions' final commit, sent 30 ms later, found the group joining again. If that
        // commit is not accepted before the new owner reads the group's offsets, what was delivered since the last
        // successful commit repeats, as documented (docs/DELIVERY.md, "Rebalancing and commits"), and kcp has logged
        // the refusal (event 10). Only those messages may repeat, and each once; a final commit refused for any other
        // reason (a stale generation: kcp committing wrongly) explains nothing.
        var refused = RefusedReleaseCommits(first.Logs);
        var explain = () => string.Join(Environment.NewLine, first.Logs.Concat(joining.Logs)
            .Where(l => l.Contains("lost", StringComparison.OrdinalIgnoreCase) || l.Contains("commit", StringComparison.OrdinalIgnoreCase) || l.Contains("revoked", StringComparison.Ordinal)));
        var accepted = receiver.Requests.Accepted().ToList();
        var unexplained = accepted.GroupBy(r => (Partition: r.Partition!.Value, Offset: r.Offset!.Value))
            .Where(g => g.Count() > 2 || (g.Count() == 2 && !(refused.TryGetValue(g.Key.Partition, out var upTo) && g.Key.Offset < upTo)))
            .Select(g => $"{g.Key.Partition}:{g.Key.Offset} ×{g.Count()}").ToList();
        Assert.True(unexplained.Count == 0, $"{unexplained.Count} message(s) accepted more than once beyond a revoked partition's refused final commit: {string.Join(", ", unexplained)}{Environment.NewLine}{explain()}");
        // Every message arrived, first in offset order.
        foreach (var (partition, count) in expected)
        {
            Assert.Equal(Enumerable.Range(0, count).Select(o => (long)o), accepted.Where(r => r.Partition == partition).Select(r => r.Offset!.Value).Distinct());
        }

        Assert.Contains(first.Logs, l => l.Contains("partitions revoked", StringComparison.Ordinal));
    }

    /// <summary>
    /// Per partition, the position of a revoked partition's final commit that the group refused because it was
    /// rebalancing: a commit failure logged just before the revocation of its partitions (the member commits them, and
    /// logs a refusal, right before it logs the revocation, on the same thread).
    /// </summary>
    private static Dictionary<int, long> RefusedReleaseCommits(IReadOnlyList<string> logs)
    {
        static string Between(string line, string start)
        {
            var from = line.IndexOf(start, StringComparison.Ordinal) + start.Length;
            return line[from..line.IndexOf(']', from)];
        }

        var refused = new Dictionary<int, long>();
        for (var i = 1; i < logs.Count; i++)
        {
            var (line, before) = (logs[i], logs[i - 1]);
            if (!line.Contains("partitions revoked [", StringComparison.Ordinal) || !before.Contains("commit of [", StringComparison.Ordinal) || !before.Contains("] failed: Broker: Group rebalance in progress", StringComparison.Ordinal))
                continue;
            var revoked = Between(line, "partitions revoked [").Split(',', StringSplitOptions.TrimEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToHashSet();
            var failed = Between(before, "commit of [").Split(',', StringSplitOptions.TrimEntries)
                .Select(pair => (Partition: int.Parse(pair.Split(':')[0], CultureInfo.InvariantCulture), Offset: long.Parse(pair.Split(':')[1], CultureInfo.InvariantCulture))).ToList();
            if (failed.All(f => revoked.Contains(f.Partition)))
            {
                foreach (var (partition, offset) in failed)
                    refused[partition] = Math.Max(offset, refused.GetValueOrDefault(partition));
            }
        }

        return refused;
    }

    [Fact]
    public async Task Validate_ErrorsInSeveralRouteFiles_ListsEveryErrorWithFileKeyAndValueAndExitsNonZero()
    {
        using var config = WriteBrokenConfig(out var routes);

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.NotEqual(0, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(
        [
            "4 configuration error(s):",
            $"{routes["missing"]}: key 'topic': required key is missing; must be a non-empty string",
            $"{routes["range"]}: key 'port' = '70000': must be an integer from 1 to 65535",
            $"{routes["typo"]}: key 'retry_num': unknown key; did you mean 'retry_nums'?",
            $"{routes["where"]}: key 'cluster' = 'asia': unknown cluster; defined clusters: default",
        ], ConfigLines.Unlocated(kcp.StdErr));
        Assert.Matches(@"range\.yaml:[0-9]+:7: key 'port'", kcp.StdErr[2]);
        Assert.Empty(kcp.StdOut);
    }

    [Fact]
    public async Task Validate_GoodConfig_PrintsOkAndExitsZero()
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("orders", "orders", "billing", 8080);
        config.AddRoute("audit", "audit", "billing", 8081, new Dictionary<string, object> { ["response_check"] = "status" });

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        // The default response_check is noted for the route that relies on it (issue 19), not for the one that set it.
        Assert.Equal(
        [
            $"{config.ConfigFile}: OK, 2 route(s): audit, orders",
            "  orders: response_check errno (default): a 2xx must carry {\"errno\":0}; set response_check: status to accept any 2xx",
        ], kcp.StdOut);
        Assert.Empty(kcp.StdErr);
    }

    [Fact]
    public async Task Run_BrokenConfig_ExitsNonZeroWithoutConsuming()
    {
        var topic = _cluster.CreateTopic("broken", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = WriteBrokenConfig(out _);
        config.AddRoute("good", topic, group, receiver.Port);

        await using var kcp = KcpProcess.Run(config.ConfigFile);

        Assert.NotEqual(0, await kcp.WaitForExitAsync(Patience));
        Assert.Equal("4 configuration error(s):", kcp.StdErr[0]);
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("started", StringComparison.Ordinal));
        Assert.Empty(receiver.Requests);
        Assert.True(Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0] < 0, "nothing may be committed");
    }

    [Theory]
    [InlineData("session.timeout.ms", "soon")]
    // The password pasted into the wrong key: the client's error message quotes the invalid value.
    [InlineData("security.protocol", "hunter2-secret")]
    public async Task Run_KafkaClientRefusesSettings_RefusedAtValidationAndNoOutputLineShowsThePassword(string key, string value)
    {
        var topic = _cluster.CreateTopic("secret", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("secret", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
        {
            ["consumer_conf"] = new Dictionary<string, string> { ["sasl.username"] = "kcp", ["sasl.password"] = "hunter2-secret", [key] = value },
        });

        await using var kcp = KcpProcess.Run(config.ConfigFile);

        // librdkafka's own check runs at validation (issue 7): exit 2 with the property's key, before anything starts.
        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Contains(kcp.StdErr, l => l.Contains($"key 'consumer_conf.{key}'", StringComparison.Ordinal) && l.Contains("rejected by librdkafka", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("hunter2-secret", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("started", StringComparison.Ordinal));
    }

    private static void AssertNoOffsetAcceptedTwice(IReadOnlyList<ReceivedRequest> requests, Func<string>? explain = null)
    {
        var repeated = requests.Accepted().GroupBy(r => (r.Partition, r.Offset)).Where(g => g.Count() > 1).Select(g => $"{g.Key.Partition}:{g.Key.Offset}").ToList();
        Assert.True(repeated.Count == 0, $"{repeated.Count} message(s) accepted more than once (partition:offset): {string.Join(", ", repeated)}"
            + (explain is null || repeated.Count == 0 ? "" : Environment.NewLine + explain()));
    }

    // One group member's machine: its own state_dir, so only the group's committed offsets pass progress on.
    private ProxyConfigWriter MachineConfig(string topic, string group, int port, Dictionary<string, string>? consumerConf = null)
    {
        var config = new ProxyConfigWriter(_cluster.BootstrapServers, consumerConf ?? QuickRebalanceConf);
        config.AddRoute("rebalance", topic, group, port);
        return config;
    }

    // Four route files, each with one kind of mistake, next to a valid main file.
    private ProxyConfigWriter WriteBrokenConfig(out Dictionary<string, string> routes)
    {
        var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        routes = new Dictionary<string, string>
        {
            ["missing"] = config.AddRoute("missing", "t1", "g", 8080),
            ["range"] = config.AddRoute("range", "t2", "g", 70000),
            ["typo"] = config.AddRoute("typo", "t3", "g", 8080, new Dictionary<string, object> { ["retry_num"] = 3 }),
            ["where"] = config.AddRoute("where", "t4", "g", 8080, new Dictionary<string, object> { ["cluster"] = "asia" }),
        };
        var missing = routes["missing"];
        File.WriteAllLines(missing, File.ReadAllLines(missing).Where(l => !l.StartsWith("topic:", StringComparison.Ordinal)));
        return config;
    }
}
