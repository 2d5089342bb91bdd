using KafkaConsumerProxy.Routes;
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
        await kcp.WaitForOutputAsync("key 'retry_nums' = '-1'", Patience);
        (code, output) = await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Matches(@"Last rejected reload \d+[smhd]( \d+[smh])? ago \(", output);
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

    [Fact]
    public async Task Reload_ConfigMapDataSwapped_NoticedForKcpYamlAndRouteFiles_StaleTargetNotWatched_Issue23()
    {
        var topicA = _cluster.CreateTopic("cm-a", 1);
        var topicB = _cluster.CreateTopic("cm-b", 1);
        await using var receiverA = await RecordingReceiver.StartAsync();
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        var routeA = File.ReadAllText(config.AddRoute("a", topicA, Names.Unique("g"), receiverA.Port));
        var routeB = File.ReadAllText(config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port));
        var main = File.ReadAllText(config.ConfigFile)
            .Replace("routes_dir: routes", "routes_dir: ../cm-routes", StringComparison.Ordinal)
            .Replace("state_dir: state", $"state_dir: \"{config.StateDir}\"", StringComparison.Ordinal);

        // Two ConfigMap volumes as the kubelet lays them out: files are links into '..data', a link to a timestamped directory.
        var mainVolume = Path.Combine(config.Directory, "cm-main");
        var routesVolume = Path.Combine(config.Directory, "cm-routes");
        ConfigMap.Publish(mainVolume, "..t1", new() { ["kcp.yaml"] = main });
        ConfigMap.Publish(routesVolume, "..t1", new() { ["a.yaml"] = routeA });
        var a = new RoutesProcessTests.Produced(_cluster, topicA, 1);
        var b = new RoutesProcessTests.Produced(_cluster, topicB, 1);
        await using var kcp = KcpProcess.Run(Path.Combine(mainVolume, "kcp.yaml"));
        await a.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        // A new version of the routes ConfigMap adds route b.
        ConfigMap.Publish(routesVolume, "..t2", new() { ["a.yaml"] = routeA, ["b.yaml"] = routeB });
        await kcp.WaitForOutputAsync("Route b: stopped -> starting: added by reload (files changed)", Patience);
        await b.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);

        // A new version of kcp.yaml's ConfigMap: only '..data' changes in its directory.
        var reloads = Reloads(kcp);
        ConfigMap.Publish(mainVolume, "..t2", new() { ["kcp.yaml"] = main + "limits:\n  shared:\n    max_concurrency: 5\n" });
        await kcp.WaitForOutputAsync(_ => Reloads(kcp) > reloads, "reload after kcp.yaml's ConfigMap changed", Patience);

        // The old timestamped directories are no longer what kcp reads: an edit there reloads nothing.
        reloads = Reloads(kcp);
        File.AppendAllText(Path.Combine(routesVolume, "..t1", "a.yaml"), "# stale\n");
        File.AppendAllText(Path.Combine(mainVolume, "..t1", "kcp.yaml"), "# stale\n");
        await Task.Delay(3 * ConfigWatcher.Debounce); // An absence: no condition to wait for.
        Assert.Equal(reloads, Reloads(kcp));
        Assert.False(kcp.HasExited);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Reload_RoutesDirLinkSwappedToNewRelease_NewRoutesApplied_StaleReleaseNotWatched_Issue23()
    {
        var topicA = _cluster.CreateTopic("rel-a", 1);
        var topicB = _cluster.CreateTopic("rel-b", 1);
        await using var receiverA = await RecordingReceiver.StartAsync();
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        var groupA = Names.Unique("g");
        var routeA = File.ReadAllText(config.AddRoute("a", topicA, groupA, receiverA.Port, new Dictionary<string, object> { ["url"] = "/v1" }));
        var routeB = File.ReadAllText(config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port));
        Directory.Delete(config.RoutesDir, recursive: true);
        var release1 = Directory.CreateDirectory(Path.Combine(config.Directory, "releases", "1", "routes")).FullName;
        var release2 = Directory.CreateDirectory(Path.Combine(config.Directory, "releases", "2", "routes")).FullName;
        File.WriteAllText(Path.Combine(release1, "a.yaml"), routeA);
        File.WriteAllText(Path.Combine(release2, "a.yaml"), routeA.Replace("\"/v1\"", "\"/v2\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(release2, "b.yaml"), routeB);
        File.CreateSymbolicLink(config.RoutesDir, release1);
        var a = new RoutesProcessTests.Produced(_cluster, topicA, 1);
        var b = new RoutesProcessTests.Produced(_cluster, topicB, 1);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await a.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiverA, a.Expected, Patience);

        // The deploy points the link at the new release, replacing it in one rename.
        ConfigMap.Relink(config.RoutesDir, release2);
        await kcp.WaitForOutputAsync("Route b: stopped -> starting: added by reload (files changed)", Patience);
        await kcp.WaitForOutputAsync("Route a: stopped -> starting: changed by reload (files changed)", Patience);
        await b.AddAsync(3);
        await DeliveryAssert.AllArrivedAsync(receiverB, b.Expected, Patience);

        // An edit in the new release is seen; one in the old release is not.
        var reloads = Reloads(kcp);
        File.AppendAllText(Path.Combine(release1, "a.yaml"), "slow_time_ms: 100\n");
        await Task.Delay(3 * ConfigWatcher.Debounce); // An absence: no condition to wait for.
        Assert.Equal(reloads, Reloads(kcp));
        File.AppendAllText(Path.Combine(release2, "a.yaml"), "slow_time_ms: 200\n");
        await kcp.WaitForOutputAsync(_ => Reloads(kcp) > reloads, "reload after an edit in the new release", Patience);
        Assert.Contains(kcp.StdOut, l => l.Contains("Route a: stopped -> starting: changed by reload (files changed)", StringComparison.Ordinal));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static int Reloads(KcpProcess kcp) => kcp.StdOut.Count(l => l.Contains("Reload (files changed)", StringComparison.Ordinal));

    /// <summary>The kubelet's ConfigMap volume layout, and the atomic swap of a link.</summary>
    private static class ConfigMap
    {
        /// <summary>
        /// Writes <paramref name="files"/> into the new directory <paramref name="version"/> of <paramref name="volume"/>,
        /// points <c>..data</c> at it with one rename and links each file name to <c>..data/name</c>, as the kubelet does.
        /// </summary>
        public static void Publish(string volume, string version, Dictionary<string, string> files)
        {
            var directory = Directory.CreateDirectory(Path.Combine(volume, version)).FullName;
            foreach (var (name, text) in files)
            {
                File.WriteAllText(Path.Combine(directory, name), text);
            }

            Relink(Path.Combine(volume, "..data"), version);
            foreach (var name in files.Keys.Where(n => !File.Exists(Path.Combine(volume, n))))
            {
                File.CreateSymbolicLink(Path.Combine(volume, name), Path.Combine("..data", name));
            }
        }

        /// <summary>Makes <paramref name="link"/> point at <paramref name="target"/>: a new link renamed over the old one.</summary>
        public static void Relink(string link, string target)
        {
            var temporary = link + ".tmp";
            File.CreateSymbolicLink(temporary, target);
            // mv -T is rename(2), which replaces a link to a directory; File.Move refuses one as its source.
            using var mv = System.Diagnostics.Process.Start("mv", ["-T", "-f", temporary, link]);
            mv.WaitForExit(10_000);
            Assert.True(mv.HasExited && mv.ExitCode == 0, $"mv -T {temporary} {link} failed");
        }
    }
}
