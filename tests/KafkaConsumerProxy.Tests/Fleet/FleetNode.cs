using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Admin;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Fleet;

/// <summary>One kcp of a fleet: a real process with its own config, state_dir and admin port, on the fleet's control topic.</summary>
internal sealed class FleetNode : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private FleetNode(ProxyConfigWriter config, KcpProcess kcp, AdminClient admin)
    {
        Config = config;
        Kcp = kcp;
        Admin = admin;
    }

    public ProxyConfigWriter Config { get; }

    public KcpProcess Kcp { get; }

    public AdminClient Admin { get; }

    /// <summary>Its instance id in the fleet, as its API names it.</summary>
    public string Instance { get; private set; } = "";

    /// <summary>
    /// Starts kcp with route <paramref name="route"/> of <paramref name="group"/> on <paramref name="topic"/> and the
    /// <c>fleet</c> section naming <paramref name="controlTopic"/> (heartbeats every second: an instance is shown as gone
    /// after 3 s of silence, which a busy machine's late heartbeat does not reach; 300 ms would show it gone after 0.9 s).
    /// </summary>
    public static async Task<FleetNode> StartAsync(TestCluster cluster, string controlTopic, string route, string topic, string group, int port, IReadOnlyDictionary<string, object>? keys = null)
    {
        var config = new ProxyConfigWriter(cluster.BootstrapServers);
        config.AddRoute(route, topic, group, port, keys);
        config.AppendMain($"fleet:\n  control_topic: \"{controlTopic}\"\n  heartbeat_ms: 1000\n");
        var kcp = KcpProcess.Run(config.ConfigFile);
        AdminClient? admin = null;
        try
        {
            admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
            var listing = await admin.WaitForJsonAsync("/api/v1/routes", r => r.TryGetProperty("instance", out var i) && i.ValueKind == JsonValueKind.String, "the instance id", Patience);
            return new FleetNode(config, kcp, admin) { Instance = listing.GetProperty("instance").GetString()! };
        }
        catch
        {
            // A kcp that did not come up is not left running for the rest of the test run.
            admin?.Dispose();
            await kcp.DisposeAsync();
            config.Dispose();
            throw;
        }
    }

    /// <summary>Waits until this node's view of <paramref name="route"/> satisfies <paramref name="condition"/> on its partitions.</summary>
    public Task<JsonElement> WaitForPartitionsAsync(string route, Func<IReadOnlyList<JsonElement>, bool> condition, string what) =>
        Admin.WaitForJsonAsync("/api/v1/routes/" + route, r => condition([.. r.GetProperty("partitions").EnumerateArray()]), $"{Instance}: {what}", Patience);

    /// <summary>The owner of each partition, as this node shows them.</summary>
    public static Dictionary<int, string?> Owners(IReadOnlyList<JsonElement> partitions) =>
        partitions.ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.TryGetProperty("instance", out var i) ? i.GetString() : null);

    /// <summary>The failing head's offset of each partition that has one.</summary>
    public static Dictionary<int, long> FailingHeads(IReadOnlyList<JsonElement> partitions) =>
        partitions.Where(p => p.TryGetProperty("failing", out var f) && f.ValueKind == JsonValueKind.Object)
            .ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.GetProperty("failing").GetProperty("offset").GetInt64());

    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        if (!Kcp.HasExited)
            Kcp.SendSignal(KcpProcess.SigTerm);
        try
        {
            await Kcp.WaitForExitAsync(Patience);
        }
        catch (TimeoutException)
        {
            // Disposing kills it.
        }

        await Kcp.DisposeAsync();
        Config.Dispose();
    }
}
