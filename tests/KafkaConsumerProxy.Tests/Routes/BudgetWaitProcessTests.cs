using System.Text.Json;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Tests.Admin;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>A route starved of its shared budget by another route's hanging requests is shown waiting, and by whom.</summary>
public sealed class BudgetWaitProcessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public BudgetWaitProcessTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task SharedBudget_HeldByHangingRoute_OtherRouteShownWaitingForItInStatusApiAndMetrics_Issue23()
    {
        var topicA = _cluster.CreateTopic("bw-a", 1);
        var topicB = _cluster.CreateTopic("bw-b", 1);
        await using var hanging = await RecordingReceiver.StartAsync(FaultScript.Always(Fault.Held(TimeSpan.FromMinutes(3))));
        await using var receiverB = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AppendMain("limits:\n  shared:\n    max_concurrency: 1\n");
        config.AddRoute("a", topicA, Names.Unique("g"), hanging.Port, new Dictionary<string, object> { ["limit"] = "shared", ["exec_timeout_ms"] = 120000 });
        config.AddRoute("b", topicB, Names.Unique("g"), receiverB.Port, new Dictionary<string, object> { ["limit"] = "shared" });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);

        await new RoutesProcessTests.Produced(_cluster, topicA, 1).AddAsync(1);
        await hanging.WaitForCountAsync(1, Patience);
        await new RoutesProcessTests.Produced(_cluster, topicB, 1).AddAsync(3);

        // The API: b waits for budget shared, held by a.
        var listing = await admin.WaitForJsonAsync("/api/v1/routes", j => Route(j, "b").TryGetProperty("waiting_for_budget", out var w) && w.ValueKind == JsonValueKind.Object,
            "route b waiting for its budget", Patience);
        var wait = Route(listing, "b").GetProperty("waiting_for_budget");
        Assert.Equal("running", Route(listing, "b").GetProperty("state").GetString());
        Assert.Equal("shared", wait.GetProperty("budget").GetString());
        Assert.True(wait.GetProperty("waiting").GetInt32() >= 1, wait.ToString());
        var holder = Assert.Single(wait.GetProperty("held_by").EnumerateArray());
        Assert.Equal("a", holder.GetProperty("route").GetString());
        Assert.Equal(1, holder.GetProperty("in_flight").GetInt32());
        Assert.Equal("waiting for budget shared (held by route a; 1 in flight)", wait.GetProperty("description").GetString());
        Assert.False(Route(listing, "a").TryGetProperty("waiting_for_budget", out var none) && none.ValueKind == JsonValueKind.Object);
        Assert.Empty(receiverB.Requests);

        // kcp status (the control socket).
        var (code, output) = await RoutesProcessTests.CliAsync("status", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^b\s+running for \d+[smhd]( \d+[smh])?, waiting for budget shared \(held by route a; 1 in flight\) for \d+[smhd]( \d+[smh])?, \d+ request\(s\)\s", output);
        (code, output) = await RoutesProcessTests.CliAsync("status", "b", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("; waiting for budget shared (held by route a; 1 in flight) for ", output, StringComparison.Ordinal);

        // The metrics: b's requests waiting and how long, a's slot.
        var (status, metrics) = await admin.GetAsync("/metrics");
        Assert.Equal(200, status);
        Assert.True(Gauge(metrics, "kcp_budget_waiting", "b") >= 1, metrics);
        Assert.True(Gauge(metrics, "kcp_budget_wait_age_seconds", "b") >= 1, metrics);
        Assert.Equal(1, Gauge(metrics, "kcp_budget_in_flight", "a"));
        Assert.Equal(0, Gauge(metrics, "kcp_budget_in_flight", "b"));
    }

    private static JsonElement Route(JsonElement listing, string name) =>
        listing.GetProperty("routes").EnumerateArray().Single(r => r.GetProperty("route").GetString() == name);

    private static double Gauge(string metrics, string name, string route)
    {
        var line = metrics.Split('\n').Select(l => Regex.Match(l, "^" + Regex.Escape(name) + @"\{([^}]*)\} (\S+)"))
            .Single(m => m.Success && m.Groups[1].Value.Contains($"route=\"{route}\"", StringComparison.Ordinal) && m.Groups[1].Value.Contains("budget=\"shared\"", StringComparison.Ordinal));
        return double.Parse(line.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
