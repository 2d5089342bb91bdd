using System.Diagnostics;
using KafkaConsumerProxy.Tests.Harness;
using Xunit.Abstractions;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>
/// Several kcp processes on one embedded cluster (issue 17, docs/FLEET.md): a rolling restart loses nothing and, with
/// cooperative-sticky, stops almost no partition that stays where it is; a stop drains within shutdown_timeout_ms.
/// </summary>
public sealed class FleetProcessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The mock coordinator waits session.timeout.ms - 1 s for members to rejoin at every rebalance; short, but long enough
    // that three processes on two busy cores keep their heartbeats.
    internal static readonly Dictionary<string, string> FleetConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "3000",
        ["heartbeat.interval.ms"] = "300",
    };

    private readonly TestCluster _cluster;
    private readonly ITestOutputHelper _output;

    public FleetProcessTests(TestCluster cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
    }

    [Fact]
    public async Task RollingRestart_ThreeInstancesTwoRestartedCooperativeSticky_NothingLostAndKeptPartitionsStayRunning_Issue17()
    {
        // bench/fleet-rolling.sh runs this test with other values to compare assignors (docs/FLEET.md); by default it
        // is the test of cooperative-sticky.
        var assignor = Environment.GetEnvironmentVariable("KCP_FLEET_ASSIGNOR") is { Length: > 0 } a ? a : "cooperative-sticky";
        var restarts = int.TryParse(Environment.GetEnvironmentVariable("KCP_FLEET_RESTARTS"), out var r) ? r : 2;
        var figures = await RollingRestart.RunAsync(_cluster, assignor, instances: 3, restarts, partitions: 6, ratePerPartition: 50, FleetConf);
        _output.WriteLine(figures.ToString());
        if (Environment.GetEnvironmentVariable("KCP_FLEET_FIGURES") is { Length: > 0 } file)
        {
            await File.AppendAllTextAsync(file, figures + "\n");
        }

        Assert.True(figures.Lost == 0, figures.ToString());
        Assert.True(figures.Revocations > 0, figures.ToString());
        if (assignor == "cooperative-sticky")
        {
            // Partitions were revoked from the stopped instances and, when they came back, from the others; they go to
            // another instance, not back to the one that gave them up. librdkafka's cooperative-sticky assignor can
            // itself revoke a partition and hand it back to the same member when a rebalance's timing is unlucky
            // (confluentinc/librdkafka#3891); seen once in a run on a machine at load 28. One is allowed; the eager
            // range assignor bounced 8 in a run of this test (KCP_FLEET_ASSIGNOR=range) and 20 in one of three restarts
            // (docs/FLEET.md).
            Assert.True(figures.Bounces <= 1, figures.ToString());
        }
    }

    [Fact]
    public async Task SigTerm_DeliveryInFlightPastShutdownTimeout_CancelledLeftUncommittedAndExitsInTime_Issue17()
    {
        var topic = _cluster.CreateTopic("drain", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        // Offset 1 hangs far beyond the bound; its exec_timeout_ms would let it run for two minutes.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.Delayed(TimeSpan.FromMinutes(2))));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, FleetConf);
        config.AddRoute("drain", topic, group, receiver.Port, new Dictionary<string, object> { ["exec_timeout_ms"] = 120_000 });
        config.AppendMain("shutdown_timeout_ms: 1500");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Any(q => q.Offset == 1), Patience);

        var stopping = Stopwatch.StartNew();
        kcp.SendSignal(KcpProcess.SigTerm);
        var code = await kcp.WaitForExitAsync(Patience);

        Assert.Equal(0, code);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"stopped after {stopping.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains(kcp.Output, l => l.Contains("[2100]", StringComparison.Ordinal) && l.Contains("requests still in flight 1.5 s", StringComparison.Ordinal));
        // Offset 0 was delivered and committed; offset 1 was not finished, so the next owner starts at it.
        Assert.Equal(1, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        Assert.DoesNotContain(receiver.Requests, r => r.Offset == 2);
    }
}

/// <summary>Guarantee mode 3 stays single-instance (issue 17, docs/FLEET.md): the second instance stops its route.</summary>
public sealed class ModeThreeSecondInstanceTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The second instance's window is 2 x session.timeout.ms + 5 s; the mock coordinator gives members
    // session.timeout.ms - 1 s to rejoin at a rebalance, which a busy first instance must make.
    private static readonly Dictionary<string, string> QuickConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "3000",
        ["heartbeat.interval.ms"] = "300",
    };

    private readonly TestCluster _cluster;
    private readonly ITestOutputHelper _output;

    public ModeThreeSecondInstanceTests(TestCluster cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
    }

    [Fact]
    public async Task ModeThree_SecondInstanceJoinsTheGroup_ItStopsItsRouteAndTheFirstDeliversEverything_Issue17()
    {
        const int Partitions = 4;
        var topic = _cluster.CreateTopic("m3fleet", Partitions);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        using var first = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        using var second = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        first.AddRoute("m3", topic, group, receiver.Port, new Dictionary<string, object> { ["url"] = "/first", ["message_delivery_guarantees"] = 3 });
        second.AddRoute("m3", topic, group, receiver.Port, new Dictionary<string, object> { ["url"] = "/second", ["message_delivery_guarantees"] = 3 });
        var produced = new RoutesProcessTests.Produced(_cluster, topic, Partitions);
        await produced.AddAsync(5);
        await using var a = KcpProcess.Run(first.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, produced.Expected, Patience);

        await using var b = KcpProcess.Run(second.ConfigFile);
        string refused;
        try
        {
            refused = await b.WaitForOutputAsync("[2240]", Patience);
        }
        catch (TimeoutException)
        {
            _output.WriteLine("first instance:\n" + string.Join('\n', a.Output));
            throw;
        }

        await b.WaitForOutputAsync(l => l.Contains("[1500]", StringComparison.Ordinal) && l.Contains("-> stopped: another instance of group " + group, StringComparison.Ordinal), "the route stopped", Patience);

        Assert.Contains($"another instance of group {group} holds partitions of {topic}", refused, StringComparison.Ordinal);
        Assert.False(b.HasExited);
        // The route's partitions are back with the first instance, which delivers what comes next; the second delivers
        // nothing more.
        var afterStop = receiver.Requests.Count;
        await produced.AddAsync(5);
        await DeliveryAssert.AllArrivedAsync(receiver, produced.Expected, Patience);
        Assert.DoesNotContain(receiver.Requests.Skip(afterStop), r => r.Path == "/second");
        DeliveryAssert.NoneLost(produced.Expected, receiver.Requests);
        Assert.DoesNotContain(a.Output, l => l.Contains("[2240]", StringComparison.Ordinal));
    }
}
