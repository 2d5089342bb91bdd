using System.Diagnostics;
using System.Globalization;
using System.Text;
using KafkaConsumerProxy.Tests.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// What the operator sees from the real <c>kcp</c> process when a value would fail only at run time, or a file is
/// hostile: exit code 2 and one line per error naming file, key and value, before anything starts. No cluster is
/// needed: every one of these is refused before kcp would connect.
/// </summary>
public sealed class ConfigProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // Nothing is reachable there; validation never connects.
    private const string NoCluster = "127.0.0.1:1";

    public static TheoryData<string, object, string> RouteValues => new()
    {
        { "domain", "a b", "key 'domain' = 'a b': must be a host name or IP address with an optional port, e.g. orders.internal or orders.internal:8080, without spaces or control characters: it is sent as the Host header" },
        { "domain", "a\\r\\nX-Evil: 1", "key 'domain' = 'a\\r\\nX-Evil: 1': must be a host name or IP address with an optional port, e.g. orders.internal or orders.internal:8080, without spaces or control characters: it is sent as the Host header" },
        { "url", "/a b", "key 'url' = '/a b': must not contain spaces or control characters; write them percent-encoded (a space is %20)" },
        { "url", "/a\\tb", "key 'url' = '/a\\tb': must not contain spaces or control characters; write them percent-encoded (a space is %20)" },
        { "host", "127.0.0.1:9999", "key 'host' = '127.0.0.1:9999': '127.0.0.1:9999' includes a port; write the host alone here and the port in the key 'port' (host: 127.0.0.1, port: 9999)" },
        { "host", "user:pw@127.0.0.1", "key 'host' = 'user:pw@127.0.0.1': 'user:pw@127.0.0.1' holds user information ('user:password@'); write the bare host: a host entry cannot carry credentials" },
        { "host", "127.0.0.1?b", "key 'host' = '127.0.0.1?b': '127.0.0.1?b' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'" },
        { "host", "127.0.0.1#b", "key 'host' = '127.0.0.1#b': '127.0.0.1#b' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'" },
        { "topic", "a b", "key 'topic' = 'a b': must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'" },
        { "topic", "bestellungen-ä", "key 'topic' = 'bestellungen-ä': must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'" },
        { "consumer_conf", new Dictionary<string, string> { ["fetch.wait.max.msec"] = "50" }, "key 'consumer_conf.fetch.wait.max.msec' = '50': rejected by librdkafka: No such configuration property: \"fetch.wait.max.msec\"" },
        { "consumer_conf", new Dictionary<string, string> { ["fetch.wait.max.ms"] = "soon" }, "key 'consumer_conf.fetch.wait.max.ms' = 'soon': rejected by librdkafka: Invalid value for configuration property \"fetch.wait.max.ms\"" },
    };

    [Theory]
    [MemberData(nameof(RouteValues))]
    public async Task Validate_RouteValueThatWouldFailAtRunTime_RefusedWithExit2NamingFileKeyValue_Issue7(string key, object value, string expected)
    {
        using var config = new ProxyConfigWriter(NoCluster);
        var route = config.AddRoute("r", "orders", "billing", 8080, new Dictionary<string, object> { [key] = value });

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{route}: {expected}"], ConfigLines.Unlocated(kcp.StdErr));
        Assert.Empty(kcp.StdOut);
    }

    [Fact]
    public async Task Validate_GroupTooLongForRecordFileName_RefusedNamingGroup_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        var group = new string('g', 240);
        var route = config.AddRoute("r", "orders", group, 8080);

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(2, kcp.StdErr.Count);
        Assert.StartsWith($"{route}: key 'group' = '{group[..120]}…': too long: the partitions' local record file names", ConfigLines.Unlocated(kcp.StdErr)[1], StringComparison.Ordinal);
        Assert.EndsWith("would be up to 273 bytes, over the file name limit of 255; shorten the group, cluster or topic name", kcp.StdErr[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_StateDirBelowAFile_RefusedNamingKeyAndValue_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);
        File.WriteAllText(config.ConfigFile, File.ReadAllText(config.ConfigFile).Replace("state_dir: state", "state_dir: kcp.yaml/sub", StringComparison.Ordinal));

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{config.ConfigFile}: key 'state_dir' = 'kcp.yaml/sub': cannot be created: {config.ConfigFile} is a file, not a directory"], ConfigLines.Unlocated(kcp.StdErr));
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("run")]
    public async Task ValidateAndRun_StateDirTooLongForControlSocket_Exit2NamingKeyValueAndLimit_Issue23(string command)
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);
        // Under the config's directory, so nothing outside it is touched; 100 bytes in all.
        var stateDir = Path.Combine(config.Directory, new string('s', 99 - config.Directory.Length));
        File.WriteAllText(config.ConfigFile, File.ReadAllText(config.ConfigFile).Replace("state_dir: state", $"state_dir: {stateDir}", StringComparison.Ordinal));

        await using var kcp = KcpProcess.Start(command, "--config", config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{config.ConfigFile}: key 'state_dir' = '{stateDir}': is too long for the control socket: {stateDir}/kcp-{{pid}}.sock may be up to 117 bytes, and a Unix socket path may have at most 107 (108 bytes including the terminating NUL, Linux's sun_path); use a state_dir of at most 90 bytes"], ConfigLines.Unlocated(kcp.StdErr));
        Assert.False(Directory.Exists(stateDir), "nothing may be created before the configuration is valid");
    }

    [Fact]
    public async Task Validate_GroupsDifferingAfterNul_BothRefusedShowingTheNulEscaped_Issue23()
    {
        // librdkafka would cut both at the NUL: two routes in one group 'nul', each getting half of the partitions.
        using var config = new ProxyConfigWriter(NoCluster);
        var a = config.AddRoute("a", "orders", "nul\\u0000a", 8080);
        var b = config.AddRoute("b", "orders", "nul\\u0000b", 8081);

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(
            [
                "2 configuration error(s):",
                $"{a}: key 'group' = 'nul\\u0000a': must be a consumer group id without control characters (U+0000 to U+001F, U+007F to U+009F)",
                $"{b}: key 'group' = 'nul\\u0000b': must be a consumer group id without control characters (U+0000 to U+001F, U+007F to U+009F)",
            ],
            ConfigLines.Unlocated(kcp.StdErr));
    }

    [Fact]
    public async Task Run_ControlCharactersInALoggedPath_LoggedEscaped_Issue23()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);
        // A path may hold any byte but '/' and NUL; the control socket's path is logged at start.
        File.WriteAllText(config.ConfigFile, File.ReadAllText(config.ConfigFile).Replace("state_dir: state", "state_dir: \"st\\x01\\eate\"", StringComparison.Ordinal));

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        // No broker answers, so a stop would wait for the group to be left: the lines logged up to here are checked.
        var line = await kcp.WaitForOutputAsync("Control socket listening", Patience);

        Assert.Contains(Path.Combine(config.Directory, "st\\x01\\x1Bate", "kcp.sock"), line, StringComparison.Ordinal);
        Assert.All(kcp.Output, l => Assert.DoesNotContain(l, char.IsControl));
        Assert.True(Directory.Exists(Path.Combine(config.Directory, "st\u0001\u001Bate")));
    }

    [Fact]
    public async Task Validate_RouteFileNotUtf8_RefusedWithBytePosition_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        var route = config.AddRoute("r", "orders", "billing", 8080);
        var text = File.ReadAllBytes(route);
        File.WriteAllBytes(route, [.. text, .. "slow_time_ms: 1 # caf"u8, 0xE9, (byte)'\n']);

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        var line = text.Count(b => b == '\n') + 1;
        Assert.Equal(["1 configuration error(s):", string.Create(CultureInfo.InvariantCulture,
            $"{route}: is not valid UTF-8: byte 0xE9 at byte offset {text.Length + 21} (line {line}, column 22); a config file must be UTF-8")], ConfigLines.Unlocated(kcp.StdErr));
    }

    [Fact]
    public async Task Validate_YamlAnchorBomb_RefusedFast_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        var route = config.AddRoute("r", "orders", "billing", 8080);
        // Ten levels of nine aliases: under 1 KB on disk, 9^10 (3.4 billion) strings once expanded.
        var bomb = new StringBuilder(File.ReadAllText(route)).Append("lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var level = 1; level <= 10; level++)
        {
            bomb.Append(CultureInfo.InvariantCulture, $"lol{level}: &lol{level} [{string.Join(", ", Enumerable.Repeat($"*lol{level - 1}", 9))}]\n");
        }

        File.WriteAllText(route, bomb.ToString());
        Assert.InRange(new FileInfo(route).Length, 600, 1100);
        var watch = Stopwatch.StartNew();

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        // Most of this is the process start; expanding the bomb would take minutes and gigabytes.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(2, kcp.StdErr.Count);
        Assert.Matches($"^{RegexEscape(route)}: cannot parse YAML at line \\d+, column \\d+: the document expands to more than 100000 nodes through aliases", kcp.StdErr[1]);
    }

    [Fact]
    public async Task Validate_FifoNamedLikeRouteFile_RefusedWithoutHanging_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);
        var fifo = Path.Combine(config.RoutesDir, "x.yaml");
        ConfigLoaderTests.MakeFifo(fifo);

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{fifo}: is a FIFO (named pipe), not a regular file; a config file must be a regular file"], ConfigLines.Unlocated(kcp.StdErr));
    }

    [Fact]
    public async Task Run_ZeroRoutes_Exit2SayingRoutesDirHoldsNoRouteFile_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);

        await using var kcp = KcpProcess.Run(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{config.ConfigFile}: key 'routes_dir' = 'routes': holds no route file (*.yaml, *.yml or *.json) in {config.RoutesDir}; kcp needs at least one route"], ConfigLines.Unlocated(kcp.StdErr));
        Assert.Empty(kcp.StdOut);
    }

    [Fact]
    public async Task Run_HostWithPort_Exit2BeforeAnythingStarts_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        var route = config.AddRoute("r", "orders", "billing", 8080, new Dictionary<string, object> { ["host"] = "127.0.0.1:9999" });

        await using var kcp = KcpProcess.Run(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(["1 configuration error(s):", $"{route}: key 'host' = '127.0.0.1:9999': '127.0.0.1:9999' includes a port; write the host alone here and the port in the key 'port' (host: 127.0.0.1, port: 9999)"], ConfigLines.Unlocated(kcp.StdErr));
        Assert.Empty(kcp.StdOut);
        Assert.False(Directory.Exists(config.StateDir), "nothing may be created before the configuration is valid");
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2026-11-24T10:00:00")]
    public async Task OffsetsSet_ToTimeNotATime_OneLineNamingArgumentAndExit2_Issue7(string value)
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);

        await using var kcp = KcpProcess.Start("offsets", "set", "--config", config.ConfigFile, "--route", "r", "--to-time", value);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal([$"kcp offsets set: --to-time '{value}' is not a date and time with offset; give an ISO 8601 time such as 2026-11-24T10:00:00Z or 2026-11-24T11:00:00+01:00 (see 'kcp offsets set --help')"], ConfigLines.Unlocated(kcp.StdErr));
        Assert.Empty(kcp.StdOut);
    }

    [Theory]
    [InlineData("0:x", "kcp offsets set: '0:x' is not PARTITION:OFFSET with two non-negative integers, e.g. 0:100")]
    [InlineData("--to-latest --to-earliest", "kcp offsets set: give exactly one of: PARTITION:OFFSET pairs, --to-earliest, --to-latest, --to-time (see 'kcp offsets set --help')")]
    // An unknown option is taken as a PARTITION:OFFSET argument, and reported as one.
    [InlineData("--to-lates", "kcp offsets set: '--to-lates' is not PARTITION:OFFSET with two non-negative integers, e.g. 0:100")]
    [InlineData("--to-time", "kcp offsets set: Required argument missing for option: '--to-time' (see 'kcp offsets set --help')")]
    public async Task OffsetsSet_BadArguments_OneLinePerErrorAndExit2_Issue7(string arguments, string firstLine)
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("r", "orders", "billing", 8080);

        await using var kcp = KcpProcess.Start(["offsets", "set", "--config", config.ConfigFile, "--route", "r", .. arguments.Split(' ')]);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Equal(firstLine, kcp.StdErr[0]);
        Assert.DoesNotContain(kcp.StdErr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OffsetsShow_UnknownRoute_NamesRouteAndRoutesAndExit4_Issue7()
    {
        using var config = new ProxyConfigWriter(NoCluster);
        config.AddRoute("orders", "orders", "billing", 8080);
        config.AddRoute("audit", "audit", "billing", 8080);

        await using var kcp = KcpProcess.Start("offsets", "show", "--config", config.ConfigFile, "--route", "nope");

        Assert.Equal(4, await kcp.WaitForExitAsync(Patience));
        Assert.Equal([$"kcp offsets: no route named 'nope' in {config.RoutesDir}; routes: audit, orders"], ConfigLines.Unlocated(kcp.StdErr));
    }

    [Fact]
    public async Task Validate_NoConfigOptionNoKcpYamlHere_SaysWhereItLookedOneLineAndExit2_Issue19()
    {
        await using var kcp = KcpProcess.Start("validate");

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        var line = Assert.Single(kcp.StdErr);
        Assert.StartsWith($"kcp: {Path.Combine(AppContext.BaseDirectory, "kcp.yaml")}: config file not found (no --config given and $KCP_CONFIG not set", line, StringComparison.Ordinal);
    }

    private static string RegexEscape(string text) => System.Text.RegularExpressions.Regex.Escape(text);
}
