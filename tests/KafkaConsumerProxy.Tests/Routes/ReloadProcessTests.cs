using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>Hot reload in the real kcp process: route files added, changed, removed and broken while it runs.</summary>
public sealed class ReloadProcessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // Short sessions: the changed route's new member rejoins the group its old member just left (see RoutesProcessTests).
    private static readonly Dictionary<string, string> QuickConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "2000",
    };

    private readonly TestCluster _cluster;

    public ReloadProcessTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Reload_AddChangeRemoveAndInvalidFile_AppliedOrRejectedWhileUnchangedRouteIsNotTouched_Issue8()
    {
        var keepTopic = _cluster.CreateTopic("rl-keep", 1);
        var changeTopic = _cluster.CreateTopic("rl-change", 2);
        var addTopic = _cluster.CreateTopic("rl-add", 1);
        var changeGroup = Names.Unique("g");
        await using var keepReceiver = await RecordingReceiver.StartAsync();
        await using var changeReceiver = await RecordingReceiver.StartAsync();
        await using var addReceiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("keep", keepTopic, Names.Unique("g"), keepReceiver.Port);
        config.AddRoute("change", changeTopic, changeGroup, changeReceiver.Port, new Dictionary<string, object> { ["url"] = "/v1" });
        var keep = new RoutesProcessTests.Produced(_cluster, keepTopic, 1);
        var change = new RoutesProcessTests.Produced(_cluster, changeTopic, 2);
        var add = new RoutesProcessTests.Produced(_cluster, addTopic, 1);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await keep.AddAsync(3);
        await change.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(keepReceiver, keep.Expected, Patience);
        await DeliveryAssert.AllArrivedAsync(changeReceiver, change.Expected, Patience);

        // Added.
        config.AddRoute("added", addTopic, Names.Unique("g"), addReceiver.Port);
        await kcp.WaitForOutputAsync("Route added: stopped -> starting: added by reload (files changed)", Patience);
        await add.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(addReceiver, add.Expected, Patience);

        // Changed: a new url. The old members commit and leave before the new ones start at what they committed.
        config.AddRoute("change", changeTopic, changeGroup, changeReceiver.Port, new Dictionary<string, object> { ["url"] = "/v2" });
        await kcp.WaitForOutputAsync("Route change: stopped -> starting: changed by reload (files changed)", Patience);
        await change.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(changeReceiver, change.Expected, Patience);
        DeliveryAssert.AllOnce(change.Expected, changeReceiver.Requests);
        Assert.Equal(6, changeReceiver.Requests.Count(r => r.Path == "/v1"));
        Assert.Equal(6, changeReceiver.Requests.Count(r => r.Path == "/v2"));

        // Removed.
        File.Delete(Path.Combine(config.RoutesDir, "added.yaml"));
        await kcp.WaitForOutputAsync("Route added: running -> stopped: removed by reload (files changed)", Patience);
        await kcp.WaitForOutputAsync("Route added member 0 stopped", Patience);
        var (code, output) = await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.DoesNotMatch(@"(?m)^added\s", output);

        // Invalid: rejected as a whole, errors logged as kcp validate prints them, the running routes go on.
        var broken = config.AddRoute("broken", keepTopic, Names.Unique("g"), keepReceiver.Port, new Dictionary<string, object> { ["retry_nums"] = -1 });
        await kcp.WaitForOutputAsync("Reload (files changed) rejected, nothing changed: 1 error(s)", Patience);
        await kcp.WaitForOutputAsync("broken.yaml: key 'retry_nums' = '-1'", Patience);
        (code, output) = await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("Last rejected reload at", output, StringComparison.Ordinal);
        Assert.Contains("key 'retry_nums' = '-1'", output, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^broken\s", output);
        await keep.AddAsync(3);
        await change.AddAsync(2);
        await DeliveryAssert.AllArrivedAsync(keepReceiver, keep.Expected, Patience);
        await DeliveryAssert.AllArrivedAsync(changeReceiver, change.Expected, Patience);
        (code, output) = await RoutesProcessTests.CliAsync("reload", "--config", config.ConfigFile);
        Assert.Equal(2, code);
        Assert.Contains("reload rejected, nothing changed", output, StringComparison.Ordinal);

        File.Delete(broken);
        await kcp.WaitForOutputAsync("Reload (files changed): no route or cluster changed", Patience);
        (code, output) = await RoutesProcessTests.CliAsync("reload", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("unchanged [change, keep]", output, StringComparison.Ordinal);

        // Debounced: each of the five edits (each several file events) made one reload.
        Assert.Equal(5, kcp.StdOut.Count(l => l.Contains("Reload (files changed)", StringComparison.Ordinal)));

        // The unchanged route was never touched: one assignment, no revoke, nothing twice.
        DeliveryAssert.AllOnce(keep.Expected, keepReceiver.Requests);
        DeliveryAssert.AllOnce(change.Expected, changeReceiver.Requests);
        Assert.Single(kcp.StdOut, l => l.Contains("Route keep member 0: partitions assigned", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("Route keep member 0: partitions revoked", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("Route keep: running ->", StringComparison.Ordinal));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Reload_ClusterSettingsChanged_RestartsItsRoutes_StateDirChangeReportedAsNeedingARestart_Issue8()
    {
        var topicA = _cluster.CreateTopic("rl-cl-a", 1);
        var topicB = _cluster.CreateTopic("rl-cl-b", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("a", topicA, Names.Unique("g"), receiver.Port);
        config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port);
        var a = new RoutesProcessTests.Produced(_cluster, topicA, 1);
        var b = new RoutesProcessTests.Produced(_cluster, topicB, 1);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await a.AddAsync(3);
        await b.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiver, a.Expected, Patience);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);

        var text = await File.ReadAllTextAsync(config.ConfigFile);
        Assert.Contains("fetch.wait.max.ms: \"20\"", text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(config.ConfigFile, text
            .Replace("fetch.wait.max.ms: \"20\"", "fetch.wait.max.ms: \"25\"", StringComparison.Ordinal)
            .Replace("state_dir: state", "state_dir: state2", StringComparison.Ordinal));

        await kcp.WaitForOutputAsync("Reload: state_dir changed from", Patience);
        await kcp.WaitForOutputAsync("Route a: stopped -> starting: changed by reload", Patience);
        await kcp.WaitForOutputAsync("Route b: stopped -> starting: changed by reload", Patience);
        await a.AddAsync(3);
        await b.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiver, a.Expected, Patience);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);
        DeliveryAssert.AllOnce(a.Expected, receiver.Requests);
        DeliveryAssert.AllOnce(b.Expected, receiverB.Requests);
        Assert.False(Directory.Exists(Path.Combine(config.Directory, "state2")));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }
}
