using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// The CLI's one convention, through the real executable: the route as first argument (and the older <c>--route</c>),
/// <c>--json</c> that parses, the default configuration (<c>$KCP_CONFIG</c>, <c>./kcp.yaml</c>), <c>--admin-url</c> with
/// a token against a running kcp's admin endpoint, the exit codes; SIGHUP reloads; a taken admin port fails the start.
/// </summary>
public sealed class CliConventionTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string Token = "cli-convention-token-0123456789";

    private readonly TestCluster _cluster;

    public CliConventionTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task OperationalCommands_KcpConfigDefaultFileAdminUrlWithToken_JsonParses_WrongTokenExit1_Issue19()
    {
        var topic = _cluster.CreateTopic("cli-conv", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, Names.Unique("g"), receiver.Port);
        await File.WriteAllTextAsync(Path.Combine(config.Directory, "admin.token"), Token + "\n");
        await File.AppendAllTextAsync(config.ConfigFile, "  token_file: admin.token\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await receiver.WaitForAsync(r => r.Count >= 3, Patience);
        await kcp.WaitForOutputAsync("Admin endpoint listening", Patience);
        using var address = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(config.StateDir, "admin.json")));
        var url = address.RootElement.GetProperty("url").GetString()!;
        var viaEnvironment = new Dictionary<string, string?> { ["KCP_CONFIG"] = config.ConfigFile };

        // $KCP_CONFIG instead of --config; --json is the API's JSON.
        var (code, output) = await CliAsync(viaEnvironment, null, "status", "--json");
        Assert.True(code == 0, output);
        using (var status = JsonDocument.Parse(output))
        {
            var route = Assert.Single(status.RootElement.GetProperty("routes").EnumerateArray());
            Assert.Equal("r", route.GetProperty("route").GetString());
            Assert.Equal("running", route.GetProperty("state").GetString());
        }

        (code, output) = await CliAsync(viaEnvironment, null, "routes", "list", "--json", "--topic", topic);
        Assert.True(code == 0, output);
        Assert.Equal("r", JsonDocument.Parse(output).RootElement.GetProperty("routes")[0].GetProperty("route").GetString());
        (code, output) = await CliAsync(viaEnvironment, null, "routes", "list", "--json", "--topic", "other");
        Assert.True(code == 0, output);
        Assert.Empty(JsonDocument.Parse(output).RootElement.GetProperty("routes").EnumerateArray());

        // ./kcp.yaml when neither is given; one route's partitions, no raw -1, ages relative.
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_CONFIG"] = null }, config.Directory, "status", "r");
        Assert.True(code == 0, output);
        Assert.Matches(@"^r: running for \d+[smhd].*; health running; topic ", output);
        Assert.Matches(@"(?m)^0\s+ok\s", output);
        Assert.DoesNotContain(" -1 ", output, StringComparison.Ordinal);

        // The route as first argument and as --route; offsets show --json with its numbers.
        (code, output) = await CliAsync(viaEnvironment, null, "offsets", "show", "r", "--json");
        Assert.True(code == 0, output);
        using (var offsets = JsonDocument.Parse(output))
        {
            Assert.Equal("r", offsets.RootElement.GetProperty("route").GetString());
            Assert.Equal(3, Assert.Single(offsets.RootElement.GetProperty("partitions").EnumerateArray()).GetProperty("log_end").GetInt64());
        }

        (code, output) = await CliAsync(viaEnvironment, null, "offsets", "show", "--route", "r");
        Assert.True(code == 0, output);
        Assert.Contains("route r: topic " + topic, output, StringComparison.Ordinal);

        (code, output) = await CliAsync(viaEnvironment, null, "validate", "--json");
        Assert.True(code == 0, output);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("valid").GetBoolean(), output);

        // --admin-url: the token from $KCP_ADMIN_TOKEN, or from --token-file; no configuration needed.
        var elsewhere = Path.GetTempPath();
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_ADMIN_TOKEN"] = Token, ["KCP_CONFIG"] = null }, elsewhere, "status", "--admin-url", url);
        Assert.True(code == 0, output);
        Assert.Matches(@"(?m)^r\s+running for \S+\s+running\s", output);
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_ADMIN_TOKEN"] = null }, elsewhere,
            "routes", "restart", "r", "--admin-url", url, "--token-file", Path.Combine(config.Directory, "admin.token"), "--json");
        Assert.True(code == 0, output);
        Assert.Equal("r", JsonDocument.Parse(output).RootElement.GetProperty("routes")[0].GetProperty("route").GetString());
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_ADMIN_TOKEN"] = Token }, elsewhere, "skip", "r", "0:99", "--admin-url", url);
        Assert.Equal(4, code);
        Assert.Contains("is not being retried", output, StringComparison.Ordinal);

        // A wrong token and none: one clear line, exit 1.
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_ADMIN_TOKEN"] = "wrong" }, elsewhere, "status", "--admin-url", url);
        Assert.Equal(1, code);
        Assert.Equal($"kcp: kcp at {url} refused the request (401 wrong token): the token given (KCP_ADMIN_TOKEN or --token-file) is not the one of its admin.token_file", output);
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_ADMIN_TOKEN"] = null }, elsewhere, "reload", "--admin-url", url);
        Assert.Equal(1, code);
        Assert.Contains("give the token of its admin.token_file in KCP_ADMIN_TOKEN or with --token-file", output, StringComparison.Ordinal);

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Validate_Json_ErrorsAsDataAndExit2_NoSuchConfigFromKcpConfig_Exit2_Issue19()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("bad", "t", "g", 8080, new Dictionary<string, object> { ["retry_nums"] = -1 });

        var (code, output) = await CliAsync(new Dictionary<string, string?>(), null, "validate", "--json", "--config", config.ConfigFile);
        Assert.Equal(2, code);
        using var answer = JsonDocument.Parse(output);
        Assert.False(answer.RootElement.GetProperty("valid").GetBoolean());
        var error = Assert.Single(answer.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal("retry_nums", error.GetProperty("key").GetString());

        var missing = Path.Combine(config.Directory, "nope.yaml");
        (code, output) = await CliAsync(new Dictionary<string, string?> { ["KCP_CONFIG"] = missing }, null, "status");
        Assert.Equal(2, code);
        Assert.Equal($"kcp: {missing}: config file not found (named by $KCP_CONFIG='{missing}'; give --config FILE to use another)", output);
    }

    [Fact]
    public async Task Run_SigHup_ReloadsWithoutStopping_PicksUpTheChangedValue_Issue19()
    {
        var topic = _cluster.CreateTopic("sighup", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // A file the watcher does not watch (it watches kcp.yaml and routes_dir): only the signal can pick up its change.
        var path = Path.Combine(config.Directory, "url.txt");
        await File.WriteAllTextAsync(path, "/before");
        config.AddRoute("r", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["url"] = "${file:" + path + "}" });
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 1));
        await receiver.WaitForAsync(r => r.Count >= 1, Patience);

        await File.WriteAllTextAsync(path, "/after");
        kcp.SendSignal(KcpProcess.SigHup);
        await kcp.WaitForOutputAsync("Reload (SIGHUP): configuration changed, 0 route(s) added, 0 removed, 1 changed", Patience);
        await _cluster.ProduceAsync(topic, [(0, null, Encoding.UTF8.GetBytes("second"))]);
        await receiver.WaitForAsync(r => r.Any(x => x.Path == "/after"), Patience);

        Assert.False(kcp.HasExited, kcp.Tail());
        Assert.Equal("/before", receiver.Requests[0].Path);
        Assert.DoesNotContain(kcp.Output, l => l.Contains("Stopping: finishing in-flight deliveries", StringComparison.Ordinal));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Run_AdminPortTaken_StartFailsNamingTheAddressAndItsHolder_Exit1_Issue19()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("r", "t", "g", 8080);
        await File.WriteAllTextAsync(config.ConfigFile, (await File.ReadAllTextAsync(config.ConfigFile)).Replace("127.0.0.1:0", $"127.0.0.1:{port}", StringComparison.Ordinal));

        await using var kcp = KcpProcess.Run(config.ConfigFile);

        Assert.Equal(1, await kcp.WaitForExitAsync(Patience));
        var line = Assert.Single(kcp.Output, l => l.Contains("Cannot start", StringComparison.Ordinal));
        Assert.Contains($"admin.listen 127.0.0.1:{port}: the address is already in use by pid {Environment.ProcessId} (", line, StringComparison.Ordinal);
        Assert.Contains("or set admin.listen: off", line, StringComparison.Ordinal);
        Assert.DoesNotContain(kcp.Output, l => l.Contains("Route r started", StringComparison.Ordinal));
    }

    private static async Task<(int Code, string Output)> CliAsync(IReadOnlyDictionary<string, string?> environment, string? workingDirectory, params string[] args)
    {
        await using var cli = KcpProcess.Start(environment, workingDirectory, args);
        var code = await cli.WaitForExitAsync(Patience);
        return (code, string.Join('\n', cli.Output));
    }
}
