using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>
/// Routes as independent units in the real kcp process: operations through <c>kcp routes</c> (the control socket),
/// the operator's state across a restart, failures that stay inside their route, reloads.
/// </summary>
public sealed class RoutesProcessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The mock coordinator waits session.timeout.ms - 1 s for members to rejoin once a group has had members; stops,
    // restarts and reloads of these tests each cost that wait, so the session is short.
    private static readonly Dictionary<string, string> QuickConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "2000",
        ["topic.metadata.refresh.interval.ms"] = "500",
    };

    private readonly TestCluster _cluster;

    public RoutesProcessTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task RouteOperations_ByNameAndByTopicGroup_EndpointSeesNothingWhilePausedOrStoppedAndEverythingOnceAfter_Issue8()
    {
        var topicA = _cluster.CreateTopic("ops-a", 2);
        var topicB = _cluster.CreateTopic("ops-b", 1);
        var groupA = Names.Unique("g");
        await using var receiverA = await RecordingReceiver.StartAsync();
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("a", topicA, groupA, receiverA.Port);
        config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        var a = new Produced(_cluster, topicA, 2);
        var b = new Produced(_cluster, topicB, 1);

        await a.AddAsync(5);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        // pause by name: B goes on, A gets nothing.
        var (code, output) = await CliAsync("routes", "pause", "a", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("a: paused", output, StringComparison.Ordinal);
        var beforePause = receiverA.Requests.Count;
        await a.AddAsync(5);
        await b.AddAsync(10);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);
        Assert.Equal(beforePause, receiverA.Requests.Count);
        (code, output) = await CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        // Paused, the member keeps its two partitions (no rebalance).
        Assert.Matches(@"(?m)^a\s+paused for \d+[smhd]( \d+[smh])?\s+\S+\s+\S+\s+default\s+2\s", output);
        Assert.Matches(@"(?m)^b\s+running for \d+[smhd]( \d+[smh])?\s+\S+\s+\S+\s+default\s+1\s", output);

        // resume by --topic/--group: everything arrives, nothing committed is repeated.
        (code, output) = await CliAsync("routes", "resume", "--topic", topicA, "--group", groupA, "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        // stop by --topic: the members leave; B goes on.
        (code, output) = await CliAsync("routes", "stop", "--topic", topicA, "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("a: stopped", output, StringComparison.Ordinal);
        var beforeStop = receiverA.Requests.Count;
        await a.AddAsync(5);
        await b.AddAsync(5);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);
        Assert.Equal(beforeStop, receiverA.Requests.Count);

        (code, output) = await CliAsync("routes", "start", "a", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        (code, output) = await CliAsync("routes", "restart", "a", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("a: running", output, StringComparison.Ordinal);
        await a.AddAsync(5);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        DeliveryAssert.AllOnce(a.Expected, receiverA.Requests);
        DeliveryAssert.AllOnce(b.Expected, receiverB.Requests);
        await kcp.WaitForOutputAsync(l => l.Contains("Route a: running -> paused: operator pause (route a", StringComparison.Ordinal), "route a's pause logged", Patience);
        await kcp.WaitForOutputAsync(l => l.Contains($"Route a: running -> stopped: operator stop (--topic {topicA}", StringComparison.Ordinal), "route a's stop logged", Patience);
        // B's member never lost its partitions: one assignment, no revoke.
        Assert.Single(kcp.StdOut, l => l.Contains("Route b member 0: partitions assigned", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("Route b member 0: partitions revoked", StringComparison.Ordinal));

        // Selections that match nothing are refused with exit 4, arguments that select nothing with exit 2.
        (code, output) = await CliAsync("routes", "pause", "nosuch", "--config", config.ConfigFile);
        Assert.Equal(4, code);
        Assert.Contains("no route named 'nosuch'", output, StringComparison.Ordinal);
        (code, output) = await CliAsync("routes", "pause", "--topic", "nosuch", "--config", config.ConfigFile);
        Assert.Equal(4, code);
        (code, _) = await CliAsync("routes", "pause", "--config", config.ConfigFile);
        Assert.Equal(2, code);

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task Pause_WhileADeliveryIsInFlight_ReturnsOnceItIsAnsweredAndCommitted_NothingStartsUntilResume_Issue8(int asyncConcurrency)
    {
        var topic = _cluster.CreateTopic("pause-inflight", 1);
        var group = Names.Unique("g");
        // Offset 1 is answered only when the test says so: it is in flight for as long as the pause needs to reach kcp,
        // however slowly the CLI starts on a loaded machine.
        var answerOffset1 = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.HeldUntil(answerOffset1.Task)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        // The held answer must not outlast kcp's wait for it (exec_timeout_ms), or kcp would send offset 1 again.
        config.AddRoute("slow", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = asyncConcurrency, ["exec_timeout_ms"] = 120_000 });
        var produced = new Produced(_cluster, topic, 1);
        await produced.AddAsync(4);
        await using var kcp = KcpProcess.Run(config.ConfigFile);

        await receiver.WaitForAsync(r => r.Any(x => x.Offset == 1), Patience);
        var pausing = CliAsync("routes", "pause", "slow", "--config", config.ConfigFile);
        await WaitForOperatorPauseAsync(config);
        Assert.False(pausing.IsCompleted, "pause returned before the delivery in flight was answered");
        answerOffset1.SetResult();
        var (code, output) = await pausing;
        Assert.True(code == 0, output);
        // Everything that had started is finished and committed; nothing started after. In sync mode offset 2 waited
        // behind offset 1; in async mode later offsets may have been in flight beside it.
        var started = receiver.Requests;
        var highest = started.Max(r => r.Offset!.Value);
        Assert.Equal(highest + 1, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        if (asyncConcurrency == 0)
        {
            Assert.Equal(1, highest);
        }

        await produced.AddAsync(2);
        (code, output) = await CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.Matches(@"(?m)^slow\s+paused\s", output);
        Assert.Equal(started.Count, receiver.Requests.Count);

        (code, output) = await CliAsync("routes", "resume", "slow", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        await DeliveryAssert.AllArrivedAsync(receiver, produced.Expected, Patience);
        DeliveryAssert.AllOnce(produced.Expected, receiver.Requests);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(6, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task PauseResume_AsyncMessagesFinishedAfterAnUnfinishedOne_AreNotDeliveredAgain_Issue23()
    {
        const int Count = 51;
        var topic = _cluster.CreateTopic("pause-ahead", 1);
        var group = Names.Unique("g");
        // Offset 0 is answered only once the pause has reached kcp; offset 1 shares its key, so it waits behind it while
        // offsets 2.. are delivered.
        var answerOffset0 = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 0, Fault.HeldUntil(answerOffset0.Task)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("r", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 2, ["exec_timeout_ms"] = 120_000 });
        var produced = await _cluster.ProduceAsync(topic, Enumerable.Range(0, Count).Select(i =>
            (0, (byte[]?)System.Text.Encoding.UTF8.GetBytes(i < 2 ? "shared" : $"k{i}"), (byte[]?)System.Text.Encoding.UTF8.GetBytes($"v{i}"))));
        var expected = produced.Select(p => (p.Partition.Value, p.Offset.Value)).ToHashSet();
        await using var kcp = KcpProcess.Run(config.ConfigFile);

        // Everything but offset 1 has arrived; offset 0 is still unanswered, so 1 has not started.
        await receiver.WaitForAsync(r => r.Select(x => x.Offset).Distinct().Count() == Count - 1, Patience);
        Assert.DoesNotContain(receiver.Requests, x => x.Offset == 1);
        var pausing = CliAsync("routes", "pause", "r", "--config", config.ConfigFile);
        await WaitForOperatorPauseAsync(config);
        answerOffset0.SetResult();
        var (code, output) = await pausing;
        Assert.True(code == 0, output);
        (code, output) = await CliAsync("routes", "resume", "r", "--config", config.ConfigFile);
        Assert.True(code == 0, output);

        // Once the commit has reached the end every fetched message has been finished: a repeat would be recorded by now.
        await WaitForCommittedAsync(group, topic, Count);
        DeliveryAssert.AllOnce(expected, receiver.Requests);
        await kcp.WaitForOutputAsync(l => l.Contains($"{topic}/0 fetched again from offset 1 (resume); {Count - 2} message(s) already finished after it are not delivered again", StringComparison.Ordinal), "the resume's finished messages logged", Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task PauseResume_ManyTimesWhileSlowMessagesHoldTheirPartitions_EveryOffsetDeliveredOnce_Issue23()
    {
        const int Partitions = 4;
        const int PerPartition = 150;
        var topic = _cluster.CreateTopic("pause-many", Partitions);
        var group = Names.Unique("g");
        // Every 25th message is answered late and holds the next one of its key (keys repeat every 7 offsets), so each
        // pause finds messages finished after an unfinished one; the others take a little time, so the pauses fall
        // while the partitions are still being delivered.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.When(r => (r.Offset + (7 * r.Partition)) % 25 == 3,
            Fault.Delayed(TimeSpan.FromSeconds(1)), _ => Fault.Delayed(TimeSpan.FromMilliseconds(30))));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("r", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 8, ["exec_timeout_ms"] = 30_000 });
        var produced = await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        var expected = produced.Select(p => (p.Partition.Value, p.Offset.Value)).ToHashSet();
        await using var kcp = KcpProcess.Run(config.ConfigFile);

        await receiver.WaitForCountAsync(10, Patience);
        for (var i = 0; i < 5; i++)
        {
            var (code, output) = await CliAsync("routes", "pause", "r", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
            (code, output) = await CliAsync("routes", "resume", "r", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
        }

        await WaitForCommittedAsync(group, topic, PerPartition, Partitions);
        DeliveryAssert.AllOnce(expected, receiver.Requests);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private Task WaitForCommittedAsync(string group, string topic, long offset, int partitions = 1) =>
        Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, partitions, c => c.Values.All(o => o >= offset), $"every partition committed at {offset}", Patience);

    [Fact]
    public async Task Pause_RebalanceWhilePaused_KeptAndNewlyAssignedPartitionsStayPaused_OtherMemberDeliversItsShare_Issue8()
    {
        const int Partitions = 4;
        var topic = _cluster.CreateTopic("pause-rebalance", Partitions);
        var group = Names.Unique("g");
        await using var pausedReceiver = await RecordingReceiver.StartAsync();
        await using var otherReceiver = await RecordingReceiver.StartAsync();
        using var pausedConfig = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        pausedConfig.AddRoute("r", topic, group, pausedReceiver.Port);
        // Another machine in the same group: its own state_dir and its own endpoint, to tell who delivered what.
        using var otherConfig = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        otherConfig.AddRoute("r", topic, group, otherReceiver.Port);
        var produced = new Produced(_cluster, topic, Partitions);
        await produced.AddAsync(2);
        await using var paused = KcpProcess.Run(pausedConfig.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(pausedReceiver, produced.Expected, Patience);
        var (code, output) = await CliAsync("routes", "pause", "r", "--config", pausedConfig.ConfigFile);
        Assert.True(code == 0, output);
        var before = pausedReceiver.Requests.Count;

        await using var other = KcpProcess.Run(otherConfig.ConfigFile);
        await other.WaitForOutputAsync("Route r member 0: partitions assigned", Patience);
        // The paused member gave up part of its partitions and kept the rest, still paused (with an eager assignor it
        // would be given its share again, and pause that).
        await paused.WaitForOutputAsync("Route r member 0: partitions revoked", Patience);
        var otherLine = other.StdOut.Last(l => l.Contains("Route r member 0: partitions assigned", StringComparison.Ordinal));
        var otherPartitions = otherLine[(otherLine.LastIndexOf('[') + 1)..otherLine.LastIndexOf(']')]
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
        Assert.InRange(otherPartitions.Count, 1, Partitions - 1);

        await produced.AddAsync(3);
        var otherShare = produced.Expected.Where(e => otherPartitions.Contains(e.Partition) && e.Offset >= 2).ToHashSet();
        await DeliveryAssert.AllArrivedAsync(otherReceiver, otherShare, Patience);
        Assert.Equal(before, pausedReceiver.Requests.Count);

        // The other member leaves: its partitions are assigned to the paused member, which pauses them too.
        other.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await other.WaitForExitAsync(Patience));
        await paused.WaitForOutputAsync(l => l.Contains("Route r member 0: partitions assigned", StringComparison.Ordinal)
            && paused.StdOut.Count(x => x.Contains("Route r member 0: paused:", StringComparison.Ordinal)) >= 2, "the newly assigned partitions paused", Patience);
        await produced.AddAsync(1);
        (code, output) = await CliAsync("routes", "list", "--config", pausedConfig.ConfigFile);
        Assert.Matches(@"(?m)^r\s+paused\s", output);
        Assert.Equal(before, pausedReceiver.Requests.Count);

        (code, output) = await CliAsync("routes", "resume", "r", "--config", pausedConfig.ConfigFile);
        Assert.True(code == 0, output);
        var pausedShare = produced.Expected.Where(e => !otherShare.Contains(e)).ToHashSet();
        await DeliveryAssert.AllArrivedAsync(pausedReceiver, pausedShare, Patience);
        DeliveryAssert.AllOnce(produced.Expected, pausedReceiver.Requests.Concat(otherReceiver.Requests));
        paused.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await paused.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Pause_SurvivesARestartOfKcp_StartsPausedWithALogLine_Issue8()
    {
        var topic = _cluster.CreateTopic("keep-pause", 1);
        var other = _cluster.CreateTopic("keep-other", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var otherReceiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("kept", topic, Names.Unique("g"), receiver.Port);
        config.AddRoute("other", other, Names.Unique("g"), otherReceiver.Port);
        var p = new Produced(_cluster, topic, 1);
        var o = new Produced(_cluster, other, 1);

        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await p.AddAsync(3);
            await DeliveryAssert.AllArrivedAsync(receiver, p.Expected, Patience);
            var (code, output) = await CliAsync("routes", "pause", "kept", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        Assert.Contains("\"paused\": true", await File.ReadAllTextAsync(Path.Combine(config.StateDir, "routes.json")), StringComparison.Ordinal);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await kcp.WaitForOutputAsync("Route kept: starts paused as an operator left it", Patience);
            var before = receiver.Requests.Count;
            await p.AddAsync(3);
            await o.AddAsync(3);
            await DeliveryAssert.AllArrivedAsync(otherReceiver, o.Expected, Patience);
            // The paused route had its partition for as long as the other route needed for all of its messages.
            await kcp.WaitForOutputAsync("Route kept member 0: paused", Patience);
            Assert.Equal(before, receiver.Requests.Count);

            var (code, output) = await CliAsync("routes", "resume", "kept", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
            await DeliveryAssert.AllArrivedAsync(receiver, p.Expected, Patience);
            DeliveryAssert.AllOnce(p.Expected, receiver.Requests);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        Assert.DoesNotContain("kept", await File.ReadAllTextAsync(Path.Combine(config.StateDir, "routes.json")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartedPausedWhileRepeatsWouldBeFiltered_AfterResumeRepeatsStillFilteredNotDelivered_Issue8()
    {
        var topic = _cluster.CreateTopic("pause-filter", 1);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        // The usual 6 s session, as GroupOffsets' consumer has: with a 2 s one the mock coordinator did not assign the
        // group again within 30 s after that consumer's visit (seen on the mock cluster; the cause was not pursued).
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, group, receiver.Port, new Dictionary<string, object> { ["use_saved_offset_time"] = -1 });
        var produced = new Produced(_cluster, topic, 1);
        await produced.AddAsync(10);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, produced.Expected, Patience);
            var (code, output) = await CliAsync("routes", "pause", "r", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        // The group's commit moved back behind this machine's trusted local record (9): 3..9 are repeats to filter.
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 3 });
        await produced.AddAsync(2);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            // Paused before the first message was filtered: the filter is set up again on resume.
            await kcp.WaitForOutputAsync("Route r member 0: paused", Patience);
            var (code, output) = await CliAsync("routes", "resume", "r", "--config", config.ConfigFile);
            Assert.True(code == 0, output);
            await DeliveryAssert.AllArrivedAsync(receiver, produced.Expected, Patience);
            await kcp.WaitForOutputAsync("filtered 7 repeated message(s)", Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        DeliveryAssert.AllOnce(produced.Expected, receiver.Requests);
        Assert.Equal(12, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task MemberFencedByTheCluster_RouteFailsAndRestartsWithBackoff_OtherRouteDeliversWithoutARevoke_Issue8()
    {
        // The real failure path: the coordinator answers a heartbeat with FENCED_INSTANCE_ID, which librdkafka makes a
        // fatal error for a static member. The group coordinators sit on different brokers, so only the fenced route's
        // group sees the error (the mock does not fence duplicate static members by itself).
        using var cluster = TestCluster.Start();
        var fencedTopic = cluster.CreateTopic("fenced", 1);
        var steadyTopic = cluster.CreateTopic("steady", 1);
        var fencedGroup = Names.Unique("g");
        var steadyGroup = Names.Unique("g");
        cluster.Mock.SetCoordinator("group", fencedGroup, 1);
        cluster.Mock.SetCoordinator("group", steadyGroup, 2);
        await using var fencedReceiver = await RecordingReceiver.StartAsync();
        await using var steadyReceiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(cluster.BootstrapServers, QuickConf);
        config.AddRoute("fenced", fencedTopic, fencedGroup, fencedReceiver.Port, new Dictionary<string, object>
        {
            ["consumer_conf"] = new Dictionary<string, string> { ["group.instance.id"] = Names.Unique("static") },
        });
        config.AddRoute("steady", steadyTopic, steadyGroup, steadyReceiver.Port);
        var fenced = new Produced(cluster, fencedTopic, 1);
        var steady = new Produced(cluster, steadyTopic, 1);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await fenced.AddAsync(3);
        await steady.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(fencedReceiver, fenced.Expected, Patience);
        await DeliveryAssert.AllArrivedAsync(steadyReceiver, steady.Expected, Patience);

        cluster.Mock.PushBrokerRequestError(1, KafkaApiKey.Heartbeat, ErrorCode.FencedInstanceId);
        await kcp.WaitForOutputAsync("Route fenced: running -> failed:", Patience);
        await kcp.WaitForOutputAsync("Route fenced: starting again in 1 s", Patience);
        var (code, output) = await CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("fenced", output, StringComparison.Ordinal);

        // While the failed route restarts, the other one delivers on.
        await steady.AddAsync(5);
        await DeliveryAssert.AllArrivedAsync(steadyReceiver, steady.Expected, Patience);
        await kcp.WaitForOutputAsync("Route fenced: restarting -> running: members started again", Patience);
        await fenced.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(fencedReceiver, fenced.Expected, Patience);

        Assert.False(kcp.HasExited);
        DeliveryAssert.NoneLost(fenced.Expected, fencedReceiver.Requests);
        DeliveryAssert.AllOnce(steady.Expected, steadyReceiver.Requests);
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("Route steady member 0: partitions revoked", StringComparison.Ordinal));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task TopicAuthorizationFailed_ShownAsTheRoutesLastError_OtherRouteUndisturbed_DeliversWhenCleared_Issue8()
    {
        var deniedTopic = _cluster.CreateTopic("denied", 1);
        var fineTopic = _cluster.CreateTopic("fine", 1);
        await using var deniedReceiver = await RecordingReceiver.StartAsync();
        await using var fineReceiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("denied", deniedTopic, Names.Unique("g"), deniedReceiver.Port);
        config.AddRoute("fine", fineTopic, Names.Unique("g"), fineReceiver.Port);
        var denied = new Produced(_cluster, deniedTopic, 1);
        var fine = new Produced(_cluster, fineTopic, 1);
        await denied.AddAsync(2);
        _cluster.Mock.SetTopicError(deniedTopic, ErrorCode.TopicAuthorizationFailed);
        try
        {
            await using var kcp = KcpProcess.Run(config.ConfigFile);
            await fine.AddAsync(3);
            await DeliveryAssert.AllArrivedAsync(fineReceiver, fine.Expected, Patience);
            var listing = await WaitForListAsync(config.ConfigFile, o => o.Contains("TopicAuthorizationFailed", StringComparison.Ordinal));
            Assert.Matches(@"(?m)^denied\s.*TopicAuthorizationFailed", listing);
            Assert.Empty(deniedReceiver.Requests);

            _cluster.Mock.SetTopicError(deniedTopic, ErrorCode.NoError);
            await DeliveryAssert.AllArrivedAsync(deniedReceiver, denied.Expected, Patience);
            await fine.AddAsync(3);
            await DeliveryAssert.AllArrivedAsync(fineReceiver, fine.Expected, Patience);
            DeliveryAssert.AllOnce(fine.Expected, fineReceiver.Requests);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }
        finally
        {
            _cluster.Mock.SetTopicError(deniedTopic, ErrorCode.NoError);
        }
    }

    [Fact]
    public async Task SecondKcpOnTheSameStateDir_GetsItsOwnSocket_CliReachesBoth_CliWithoutKcpSaysSo_Issue8()
    {
        var topic = _cluster.CreateTopic("second", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("one", topic, Names.Unique("g"), receiver.Port);

        var (code, output) = await CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.Equal(1, code);
        Assert.Contains("kcp is not running for this configuration", output, StringComparison.Ordinal);

        // A socket file left by a kcp that was killed is replaced.
        await using (var killed = KcpProcess.Run(config.ConfigFile))
        {
            await killed.WaitForOutputAsync("Control socket listening", Patience);
        }

        Assert.True(File.Exists(Path.Combine(config.StateDir, "kcp.sock")));
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await kcp.WaitForOutputAsync("was left by a kcp that no longer runs; replaced", Patience);
        await kcp.WaitForOutputAsync("Control socket listening", Patience);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(config.StateDir, "kcp.sock")));
        }

        // Processes sharing a state_dir (they share skip records and operator state): the second gets its own socket.
        await using var second = KcpProcess.Run(config.ConfigFile);
        await second.WaitForOutputAsync("is served by another kcp sharing this state_dir", Patience);
        await second.WaitForOutputAsync("Control socket listening", Patience);
        Assert.False(kcp.HasExited);
        Assert.False(second.HasExited);
        (code, output) = await CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains($"== kcp on {Path.Combine(config.StateDir, "kcp.sock")}", output, StringComparison.Ordinal);
        Assert.Contains($"== kcp on {Path.Combine(config.StateDir, "kcp-")}", output, StringComparison.Ordinal);
        second.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await second.WaitForExitAsync(Patience));
        Assert.Empty(Directory.GetFiles(config.StateDir, "kcp-*.sock"));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    /// <summary>Waits until kcp has kept the operator's pause in routes.json, which it does before it waits for the deliveries in flight.</summary>
    /// <summary>
    /// Waits for routes.json to say paused: kcp requests the pause before it writes that, so from then on no delivery
    /// starts (the pause is applied once deliveries in flight finish).
    /// </summary>
    private static Task WaitForOperatorPauseAsync(ProxyConfigWriter config)
    {
        var operatorState = Path.Combine(config.StateDir, "routes.json");
        return Eventually.TrueAsync(
            () => File.Exists(operatorState) && File.ReadAllText(operatorState).Contains("\"paused\": true", StringComparison.Ordinal),
            "the pause kept by kcp",
            Patience,
            () => File.Exists(operatorState) ? File.ReadAllText(operatorState) : "(no routes.json)");
    }

    internal static async Task<(int Code, string Output)> CliAsync(params string[] args)
    {
        await using var cli = KcpProcess.Start(args);
        var code = await cli.WaitForExitAsync(Patience);
        return (code, string.Join('\n', cli.Output));
    }

    private static async Task<string> WaitForListAsync(string configFile, Func<string, bool> condition)
    {
        var (_, output) = await Eventually.ValueAsync(
            () => CliAsync("routes", "list", "--config", configFile),
            list => condition(list.Output),
            "kcp routes list showing what was expected",
            Patience,
            list => list.Output,
            TimeSpan.FromMilliseconds(200));
        return output;
    }

    /// <summary>What a test produced to one topic, as the set of (partition, offset) the endpoint must receive.</summary>
    internal sealed class Produced(TestCluster cluster, string topic, int partitions)
    {
        private readonly HashSet<(int Partition, long Offset)> _expected = [];

        public IReadOnlySet<(int Partition, long Offset)> Expected => _expected;

        public async Task AddAsync(int perPartition)
        {
            var messages = Enumerable.Range(0, partitions).SelectMany(p => Enumerable.Range(0, perPartition)
                .Select(i => (p, (byte[]?)null, (byte[]?)System.Text.Encoding.UTF8.GetBytes($"{topic}-{p}-{i}-{Guid.NewGuid():N}"))));
            foreach (var tpo in await cluster.ProduceAsync(topic, messages))
            {
                _expected.Add((tpo.Partition.Value, tpo.Offset.Value));
            }
        }
    }
}
