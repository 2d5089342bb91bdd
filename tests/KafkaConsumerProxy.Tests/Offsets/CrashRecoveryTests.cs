using System.Globalization;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Tests.Harness;
using Xunit.Abstractions;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>
/// The guarantee modes under crashes: the real kcp executable is killed with SIGKILL at random points and restarted,
/// against the embedded cluster, while the endpoint counts what arrives. Lost must be 0; repeats must be confined to
/// the messages in flight at a kill (the last one of a partition delivered before it).
/// </summary>
public sealed class CrashRecoveryTests : IClassFixture<TestCluster>
{
    private const int SigKill = 9;
    private const int Partitions = 8;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static readonly Dictionary<string, string> CrashConsumerConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        // A killed member is noticed by the group after the session timeout; keep restarts quick, yet long enough that
        // a live member on a loaded 2-core machine is not dropped for a late heartbeat.
        ["session.timeout.ms"] = "3000",
        ["heartbeat.interval.ms"] = "300",
    };

    private static readonly Dictionary<string, string> GroupOfThreeConsumerConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        // Three processes share two cores here: a short session timeout would drop busy survivors and keep the
        // group rebalancing.
        ["session.timeout.ms"] = "6000",
        ["heartbeat.interval.ms"] = "500",
    };

    private readonly TestCluster _cluster;
    private readonly ITestOutputHelper _output;

    public CrashRecoveryTests(TestCluster cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task KillNine_FiveRandomPoints_NothingLostAndRepeatsOnlyInFlight(int mode)
    {
        const int PerPartition = 2500, Total = Partitions * PerPartition;
        var topic = _cluster.CreateTopic($"crash-m{mode}", Partitions);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, CrashConsumerConf);
        config.AddRoute("crash", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
        {
            ["message_delivery_guarantees"] = mode,
            ["commit_interval_ms"] = 1000,
        });

        var random = new Random(1000 + mode);
        var killPoints = Enumerable.Range(0, 5).Select(i => (Total * (i + 1) / 7) + random.Next(Total / 14)).ToList();
        var inFlightAtKill = new HashSet<(int, long)>();
        foreach (var point in killPoints)
        {
            await using var kcp = KcpProcess.Run(config.ConfigFile);
            await receiver.WaitForAsync(r => r.Count >= point, Patience);
            kcp.SendSignal(SigKill);
            await kcp.WaitForExitAsync(TimeSpan.FromSeconds(10));
            // A request sent just before the kill may still be read by the receiver after it: the window is taken once
            // nothing more arrives for half a second (bounded at 10 s), so that it holds that request rather than the
            // one before it, even when the receiver's reads lag on a busy machine.
            for (var (count, i) = (-1, 0); receiver.Requests.Count != count && i < 20; i++)
            {
                count = receiver.Requests.Count;
                await Task.Delay(500);
            }

            foreach (var last in receiver.Requests.GroupBy(r => r.Partition!.Value).Select(g => (g.Key, g.Max(r => r.Offset!.Value))))
            {
                inFlightAtKill.Add(last);
            }
        }

        var expected = DeliveryAssert.Offsets(Partitions, PerPartition);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            // Bounded, and not an assertion: what is missing after it is named below.
            await DeliveryAssert.WaitForAllAsync(receiver, expected, Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        var comparison = DeliveryAssert.Compare(expected, receiver.Requests);
        var lost = comparison.Missing.Count;
        var repeated = comparison.RepeatCount;
        var outsideWindow = comparison.Repeated.Keys.Where(k => !inFlightAtKill.Contains(k)).Order().ToList();
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mode {mode}: {Total} messages, kills at {string.Join(",", killPoints)}: lost {lost}, repeated {repeated} ({comparison.Repeated.Count} distinct), outside in-flight window {outsideWindow.Count}"));
        await File.AppendAllTextAsync(Path.Combine(AppContext.BaseDirectory, "delivery-proof.txt"), string.Create(CultureInfo.InvariantCulture, $"mode {mode}: messages {Total}, kills 5, lost {lost}, repeated {repeated}, outside window {outsideWindow.Count}\n"));

        DeliveryAssert.NoneLost(expected, receiver.Requests);
        Assert.True(outsideWindow.Count == 0, $"repeated outside the in-flight window of a kill: {DeliveryAssert.Ranges(outsideWindow)}");
        Assert.True(repeated <= killPoints.Count * Partitions, $"at most one in-flight message per partition per kill may repeat, saw {repeated}");
    }

    [Fact]
    public async Task ThreeProcessesOneGroup_OneKilledMidRun_NothingLost()
    {
        const int PerPartition = 1500, Total = Partitions * PerPartition;
        var topic = _cluster.CreateTopic("trio", Partitions);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Delayed(TimeSpan.FromMilliseconds(1))));
        // Each process has its own state directory, as on separate machines.
        var configs = Enumerable.Range(0, 3).Select(_ => new ProxyConfigWriter(_cluster.BootstrapServers, GroupOfThreeConsumerConf)).ToList();
        var group = Names.Unique("g");
        foreach (var config in configs)
        {
            config.AddRoute("trio", topic, group, receiver.Port);
        }

        var expected = DeliveryAssert.Offsets(Partitions, PerPartition);
        var processes = configs.Select(c => KcpProcess.Run(c.ConfigFile)).ToList();
        try
        {
            await receiver.WaitForAsync(r => r.Count >= Total / 3, Patience);
            processes[1].SendSignal(SigKill);
            await DeliveryAssert.WaitForAllAsync(receiver, expected, Patience);
            foreach (var survivor in new[] { processes[0], processes[2] })
            {
                survivor.SendSignal(KcpProcess.SigTerm);
                Assert.Equal(0, await survivor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            }
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            foreach (var config in configs)
            {
                config.Dispose();
            }
        }

        var comparison = DeliveryAssert.Compare(expected, receiver.Requests);
        _output.WriteLine($"three processes, one killed: {Total} messages, lost {comparison.Missing.Count}, repeated {comparison.RepeatCount}");
        await File.AppendAllTextAsync(Path.Combine(AppContext.BaseDirectory, "delivery-proof.txt"), $"three processes, one killed: messages {Total}, lost {comparison.Missing.Count}, repeated {comparison.RepeatCount}\n");
        DeliveryAssert.NoneLost(expected, receiver.Requests);
    }

    [Fact]
    public async Task BrokerOutageAndInjectedErrors_DuringDelivery_NothingLost()
    {
        const int PerPartition = 400, Total = Partitions * PerPartition;
        using var cluster = MockKafkaCluster.Start(3);
        var topic = Names.Unique("faults");
        cluster.CreateTopic(topic, Partitions);
        await EmbeddedProducer.ProduceAsync(cluster.BootstrapServers, topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Delayed(TimeSpan.FromMilliseconds(2))));
        using var config = new ProxyConfigWriter(cluster.BootstrapServers, CrashConsumerConf);
        var group = Names.Unique("g");
        config.AddRoute("faults", topic, group, receiver.Port);

        await using var first = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Count >= Total / 5, Patience);

        cluster.PushRequestErrors(KafkaApiKey.OffsetCommit, Confluent.Kafka.ErrorCode.RebalanceInProgress, Confluent.Kafka.ErrorCode.NotCoordinatorForGroup, Confluent.Kafka.ErrorCode.RequestTimedOut);
        cluster.PushRequestErrors(KafkaApiKey.Fetch, Confluent.Kafka.ErrorCode.NotLeaderForPartition, Confluent.Kafka.ErrorCode.RequestTimedOut, Confluent.Kafka.ErrorCode.UnknownTopicOrPart);
        cluster.SetBrokerDown(2);
        await receiver.WaitForAsync(r => r.Count >= Total * 2 / 5, Patience);
        cluster.SetBrokerUp(2);

        // A second member joining forces a rebalance through the injected JoinGroup/SyncGroup errors.
        cluster.PushRequestErrors(KafkaApiKey.JoinGroup, Confluent.Kafka.ErrorCode.RebalanceInProgress, Confluent.Kafka.ErrorCode.NotCoordinatorForGroup);
        cluster.PushRequestErrors(KafkaApiKey.SyncGroup, Confluent.Kafka.ErrorCode.RebalanceInProgress);
        await using var second = InProcessProxy.Start(config.ConfigFile);
        var expected = DeliveryAssert.Offsets(Partitions, PerPartition);
        await DeliveryAssert.WaitForAllAsync(receiver, expected, Patience);
        await second.StopAsync();
        await first.StopAsync();

        var comparison = DeliveryAssert.Compare(expected, receiver.Requests);
        _output.WriteLine($"broker down/up + injected errors: {Total} messages, lost {comparison.Missing.Count}, repeated {comparison.RepeatCount}");
        await File.AppendAllTextAsync(Path.Combine(AppContext.BaseDirectory, "delivery-proof.txt"), $"broker down/up and injected OffsetCommit/Fetch/JoinGroup/SyncGroup errors: messages {Total}, lost {comparison.Missing.Count}, repeated {comparison.RepeatCount}\n");
        DeliveryAssert.NoneLost(expected, receiver.Requests);
    }
}
