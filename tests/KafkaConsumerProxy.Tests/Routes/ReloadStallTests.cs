using System.Diagnostics;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>A reload while one route's endpoint does not answer: nothing else waits for that route's requests.</summary>
public sealed class ReloadStallTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // Short sessions: the changed route's new member rejoins the group its old member just left (see RoutesProcessTests).
    private static readonly Dictionary<string, string> QuickConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "2000",
    };

    private readonly TestCluster _cluster;

    public ReloadStallTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Reload_ChangedRouteHangsInFlight_AddedRouteDeliversAtOnce_ChangedOneAfterTheBoundedWait_NothingLost_Issue23()
    {
        var topicA = _cluster.CreateTopic("rs-a", 1);
        var topicB = _cluster.CreateTopic("rs-b", 1);
        var groupA = Names.Unique("g");
        // Route a's endpoint never answers (it would, after 3 minutes, by dropping the connection).
        await using var hanging = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Held(TimeSpan.FromMinutes(3))));
        await using var receiverA = await RecordingReceiver.StartAsync();
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        var slow = new Dictionary<string, object> { ["exec_timeout_ms"] = 120000 };
        config.AddRoute("a", topicA, groupA, hanging.Port, slow);
        var a = new RoutesProcessTests.Produced(_cluster, topicA, 1);
        var b = new RoutesProcessTests.Produced(_cluster, topicB, 1);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await a.AddAsync(3);
        await hanging.WaitForCountAsync(1, Patience);

        // a moves to an endpoint that answers (a changed route), b is added: one reload.
        config.AddRoute("a", topicA, groupA, receiverA.Port, slow);
        config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port);
        await b.AddAsync(3);
        var clock = Stopwatch.StartNew();
        var (code, output) = await RoutesProcessTests.CliAsync("reload", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        // Before, the reload waited for a's request (exec_timeout_ms, 2 minutes) and answered nothing meanwhile.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"kcp reload took {clock.Elapsed}: {output}");
        Assert.Contains("reload applied", output, StringComparison.Ordinal);

        // b does not wait for a.
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, TimeSpan.FromSeconds(20));
        (code, output) = await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^a\s+(starting|running)\s", output);
        Assert.Matches(@"(?m)^b\s+running\s", output);

        // The old a's request is cancelled after the bounded wait, its message left uncommitted: the new a delivers
        // every message of the topic, the one that hung included, each once.
        await kcp.WaitForOutputAsync("Route a: requests still in flight 10 s after it was asked to stop", Patience);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);
        DeliveryAssert.AllOnce(a.Expected, receiverA.Requests);
        DeliveryAssert.AllOnce(b.Expected, receiverB.Requests);
        Assert.Single(hanging.Requests);
        (code, output) = await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^a\s+running\s", output);
        Assert.DoesNotContain("Reload in progress", output, StringComparison.Ordinal);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }
}
