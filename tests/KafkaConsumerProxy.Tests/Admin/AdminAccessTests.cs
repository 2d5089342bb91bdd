using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>Who may reach the admin endpoint of a real kcp process: host names, origins, local users, refusal floods, connection floods.</summary>
// File modes, /proc/net/tcp and setpriv: Linux, where kcp runs.
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
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

    [SkippableFact]
    public async Task OtherLocalUser_WithoutToken_CannotChangeState_StateFilesAreOwnerOnly_Issue23()
    {
        Skip.If(Environment.UserName != "root", "running a request as another user (nobody) needs root");
        Skip.If(!File.Exists("/usr/bin/setpriv") || !File.Exists("/usr/bin/curl"), "setpriv and curl are needed to send a request as nobody");
        var topic = _cluster.CreateTopic("adm-uid", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("state").GetString() == "running", "r1 running", Patience);
        var stop = new Uri(admin.BaseAddress, "api/v1/routes/r1/stop").ToString();

        // nobody reaches the loopback port, may read, but may not stop the route.
        var (refused, refusedBody) = await CurlAsync(asNobody: true, "-X", "POST", stop);
        Assert.True(refused == 403, $"{refused} {refusedBody}");
        Assert.Contains("not from uid 65534", refusedBody, StringComparison.Ordinal);
        var (read, _) = await CurlAsync(asNobody: true, new Uri(admin.BaseAddress, "api/v1/routes").ToString());
        Assert.Equal(200, read);
        var status = await admin.GetJsonAsync("/api/v1/routes/r1");
        Assert.False(status.GetProperty("operator_stopped").GetBoolean(), status.ToString());
        Assert.Equal("running", status.GetProperty("state").GetString());

        // kcp's own user (root here) may, and the audit names it.
        var (done, doneBody) = await CurlAsync(asNobody: false, "-X", "POST", stop);
        Assert.True(done == 200, $"{done} {doneBody}");
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("operator_stopped").GetBoolean(), "r1 stopped by root", Patience);
        // The audit line of a served request is written once its answer has gone out.
        var auditFile = Path.Combine(config.StateDir, "audit.jsonl");
        var audit = await Eventually.ValueAsync(
            async () => File.Exists(auditFile) ? await File.ReadAllLinesAsync(auditFile) : [],
            lines => lines.Any(l => l.Contains("/api/v1/routes/r1/stop", StringComparison.Ordinal) && l.Contains("\"status\":200", StringComparison.Ordinal)
                && l.Contains("\"who\":\"uid 0 at 127.0.0.1\"", StringComparison.Ordinal)),
            "the audit line of root's stop",
            Patience,
            lines => string.Join('\n', lines),
            TimeSpan.FromMilliseconds(50));
        Assert.Contains(audit, l => l.Contains("/api/v1/routes/r1/stop", StringComparison.Ordinal) && l.Contains("\"status\":403", StringComparison.Ordinal)
            && l.Contains("\"who\":\"uid 65534 at 127.0.0.1\"", StringComparison.Ordinal));

        // Message keys (skip records), operator state and the audit: kcp's user only.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(config.StateDir));
        foreach (var name in new[] { "skipped.jsonl", "audit.jsonl", "routes.json" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(config.StateDir, name)));
        }

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task SkipRecordsOfAnOlderKcp_ReadableByOthers_AreNarrowedAtStart_Issue23()
    {
        var topic = _cluster.CreateTopic("adm-mode", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        Directory.CreateDirectory(config.StateDir);
        var legacy = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        await File.WriteAllTextAsync(config.SkipFile, "");
        File.SetUnixFileMode(config.SkipFile, legacy);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.SkipFile));
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task HalfOpenConnections_DoNotKeepHealthAway_ReadinessReasonsNeedTheToken_Issue23()
    {
        const string Token = "test-token-0123456789abcdef";
        var topic = _cluster.CreateTopic("adm-conn", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        config.AddRoute("stuck", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["cluster"] = "nowhere" });
        config.AddCluster("nowhere", "127.0.0.1:1");
        await File.WriteAllTextAsync(Path.Combine(config.Directory, "admin.token"), Token + "\n");
        await File.AppendAllTextAsync(config.ConfigFile, "  token_file: admin.token\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, Token, Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("state").GetString() == "running", "r1 running", Patience);

        // Without the token /readyz says whether, not why: no route, group or cause.
        var (bareStatus, bare) = await admin.SendAsync(HttpMethod.Get, "/readyz", noToken: true);
        Assert.True(bareStatus == 503, bare);
        Assert.DoesNotContain("stuck", bare, StringComparison.Ordinal);
        Assert.DoesNotContain("reasons", bare, StringComparison.Ordinal);
        Assert.Contains("route stuck", (await admin.SendAsync(HttpMethod.Get, "/readyz")).Body, StringComparison.Ordinal);

        // 200 connections from this address that never send a byte.
        var port = admin.BaseAddress.Port;
        var sockets = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var socket = new System.Net.Sockets.TcpClient();
                sockets.Add(socket);
                await socket.ConnectAsync("127.0.0.1", port);
            }

            // Health and readiness answer at once (a fresh client each time: a new connection, like a probe's); held
            // behind the idle connections they would wait some 30 s, for the server's header timeout to close those.
            foreach (var path in new[] { "/healthz", "/readyz", "/healthz" })
            {
                using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
                var watch = System.Diagnostics.Stopwatch.StartNew();
                using var response = await probe.GetAsync(new Uri(admin.BaseAddress, path));
                Assert.True((int)response.StatusCode is 200 or 503, $"{path}: {(int)response.StatusCode}");
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"{path} took {watch.Elapsed}");
            }

            // kcp keeps at most 16 of them: the others were closed to make room.
            await Eventually.ValueAsync(
                () => sockets.Count(socket => !ClosedByPeer(socket.Client)),
                open => open <= 16,
                "at most 16 of the 200 idle connections still open",
                Patience,
                open => $"{open} open",
                TimeSpan.FromMilliseconds(100));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        await kcp.WaitForOutputAsync("closed an idle connection of 127.0.0.1", Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task RefusedRequestFlood_IsCountedNotAppended_AuditNamesWhoAsked_Issue23()
    {
        const string Token = "test-token-0123456789abcdef";
        const int Refused = 500;
        var topic = _cluster.CreateTopic("adm-flood", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r1", topic, Names.Unique("g"), receiver.Port);
        await File.WriteAllTextAsync(Path.Combine(config.Directory, "admin.token"), Token + "\n");
        await File.AppendAllTextAsync(config.ConfigFile, "  token_file: admin.token\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, Token, Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r1", r => r.GetProperty("state").GetString() == "running", "r1 running", Patience);

        var query = "?x=" + new string('a', 4096);
        for (var i = 0; i < Refused; i++)
        {
            Assert.Equal(401, (await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/stop" + query, noToken: true)).Status);
            Assert.Equal(401, (await admin.SendAsync(HttpMethod.Get, "/api/v1/routes" + query, noToken: true)).Status);
        }

        // The token holder's own change is audited as ever.
        Assert.Equal(200, (await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/r1/pause")).Status);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));

        var auditFile = Path.Combine(config.StateDir, "audit.jsonl");
        var lines = await File.ReadAllLinesAsync(auditFile);
        Assert.True(new FileInfo(auditFile).Length < 16 * 1024, $"audit.jsonl is {new FileInfo(auditFile).Length} bytes for {lines.Length} lines");
        var refused = lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("status").GetInt32() == 401).ToList();
        Assert.InRange(refused.Count, 2, 6);
        Assert.Equal(Refused, refused.Sum(e => e.TryGetProperty("count", out var c) ? c.GetInt64() : 1));
        Assert.All(refused, e =>
        {
            Assert.Equal("client without the token at 127.0.0.1", e.GetProperty("who").GetString());
            Assert.Equal("POST", e.GetProperty("method").GetString());
            Assert.True(e.GetProperty("path").GetString()!.Length < 600, e.GetProperty("path").GetString());
        });
        Assert.Contains(lines, l => l.Contains("/api/v1/routes/r1/pause", StringComparison.Ordinal) && l.Contains("\"who\":\"token holder at 127.0.0.1\"", StringComparison.Ordinal));

        // The log: the first refusal of each kind in full, then one line per 30 s with the count.
        var logged = kcp.Output.Where(l => l.Contains("Admin request", StringComparison.Ordinal)).ToList();
        Assert.InRange(logged.Count, 4, 12);
        Assert.All(logged, l => Assert.True(l.Length < 1500, l));
        Assert.Contains(logged, l => l.Contains("Admin requests refused: ", StringComparison.Ordinal) && l.Contains("(status 401); latest: POST", StringComparison.Ordinal));
        Assert.Contains(logged, l => l.Contains("Admin requests refused: ", StringComparison.Ordinal) && l.Contains("(status 401); latest: GET", StringComparison.Ordinal));
    }

    /// <summary>True when the peer closed <paramref name="socket"/> (readable with nothing to read, or reset).</summary>
    private static bool ClosedByPeer(System.Net.Sockets.Socket socket)
    {
        try
        {
            return socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true;
        }
    }

    /// <summary>curl's status and body for one request, run as nobody (setpriv) or as this process's user.</summary>
    private static async Task<(int Status, string Body)> CurlAsync(bool asNobody, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(asNobody ? "/usr/bin/setpriv" : "/usr/bin/curl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (asNobody)
        {
            foreach (var a in new[] { "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/curl" })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in new[] { "-s", "--max-time", "30", "-w", "\n%{http_code}" }.Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"curl exit {process.ExitCode}: {error}");
        var split = output.LastIndexOf('\n');
        return (int.Parse(output[(split + 1)..], System.Globalization.CultureInfo.InvariantCulture), output[..split]);
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
