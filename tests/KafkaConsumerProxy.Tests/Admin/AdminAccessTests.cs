using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>Who may reach the admin endpoint of a real kcp process: host names, origins, local users, refusal floods, connection floods.</summary>
public sealed class AdminAccessTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TestCluster _cluster;

    public AdminAccessTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task ReboundHostName_IsRefusedForReadsAndChanges_ListenerNamesAndAllowedHostsWork_Issue23()
    {
        var topic = _cluster.CreateTopic("adm-host", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        await File.AppendAllTextAsync(config.ConfigFile, "  allowed_hosts: [kcp.example.internal]\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        var port = admin.BaseAddress.Port;
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("state").GetString() == "running", "r1 running", Patience);

        // A page of evil.test whose name now resolves to 127.0.0.1: the browser sends its own name as Host and Origin.
        var evil = $"evil.test:{port}";
        var read = await RawHttp.SendAsync(port, "GET", "/api/v1/routes", ("Host", evil));
        Assert.True(read.Status == 421, $"{read.Status} {read.Body}");
        Assert.DoesNotContain("r1", read.Body, StringComparison.Ordinal);
        var page = await RawHttp.SendAsync(port, "GET", "/", ("Host", evil));
        Assert.Equal(421, page.Status);
        var pause = await RawHttp.SendAsync(port, "POST", "/api/v1/routes/r1/pause", ("Host", evil), ("Origin", "http://" + evil), ("Sec-Fetch-Site", "same-origin"));
        Assert.True(pause.Status == 421, $"{pause.Status} {pause.Body}");

        // The right Host, but a request made by another origin's page.
        foreach (var origin in new[] { "http://" + evil, $"http://localhost:{port + 1}", "null" })
        {
            var cross = await RawHttp.SendAsync(port, "POST", "/api/v1/routes/r1/pause", ("Host", $"127.0.0.1:{port}"), ("Origin", origin));
            Assert.True(cross.Status == 403, $"Origin {origin}: {cross.Status} {cross.Body}");
        }

        var status = await admin.GetJsonAsync("/api/v1/routes/r1");
        Assert.False(status.GetProperty("operator_paused").GetBoolean(), status.ToString());

        // Health answers whatever the name (probes and load balancers use their own).
        Assert.Equal(200, (await RawHttp.SendAsync(port, "GET", "/healthz", ("Host", evil))).Status);

        // The dashboard's names: the listen address, localhost, and the configured name, for the page, the API and actions.
        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"kcp.example.internal:{port}", "KCP.Example.Internal." })
        {
            Assert.Equal(200, (await RawHttp.SendAsync(port, "GET", "/", ("Host", host))).Status);
            var list = await RawHttp.SendAsync(port, "GET", "/api/v1/routes", ("Host", host));
            Assert.True(list.Status == 200 && list.Body.Contains("\"r1\"", StringComparison.Ordinal), $"{host}: {list.Status} {list.Body}");
        }

        var local = await RawHttp.SendAsync(port, "POST", "/api/v1/routes/r1/pause", ("Host", $"localhost:{port}"), ("Origin", $"http://localhost:{port}"), ("Sec-Fetch-Site", "same-origin"));
        Assert.True(local.Status == 200, $"{local.Status} {local.Body}");
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("operator_paused").GetBoolean(), "r1 paused by the localhost request", Patience);
        var named = await RawHttp.SendAsync(port, "POST", "/api/v1/routes/r1/resume", ("Host", $"kcp.example.internal:{port}"), ("Origin", $"http://kcp.example.internal:{port}"));
        Assert.True(named.Status == 200, $"{named.Status} {named.Body}");
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => !r.GetProperty("operator_paused").GetBoolean(), "r1 resumed by the allowed name", Patience);

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Theory]
    [InlineData("[\"http://kcp.example\"]", "host name or IP address without scheme")]
    [InlineData("[\"kcp.example:9464\"]", "host name or IP address without scheme")]
    [InlineData("kcp.example", "must be a list of strings")]
    public async Task Validate_RefusesBadAllowedHosts_Issue23(string value, string expected)
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", "t", "g", 1);
        await File.AppendAllTextAsync(config.ConfigFile, $"  allowed_hosts: {value}\n");
        await using var kcp = KcpProcess.Validate(config.ConfigFile);
        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Contains(kcp.Output, l => l.Contains("admin.allowed_hosts", StringComparison.Ordinal) && l.Contains(expected, StringComparison.Ordinal));
    }
}
