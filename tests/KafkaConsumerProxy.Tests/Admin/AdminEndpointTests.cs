using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>The admin endpoint of the real kcp process, through real HTTP: access, metrics, readiness, the API, actions, audit.</summary>
public sealed class AdminEndpointTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string PlantedSecret = "planted-Secret-4711";
    private const string Token = "test-token-0123456789abcdef";

    private static readonly Dictionary<string, string> QuickConf = new(ProxyConfigWriter.FastConsumerConf)
    {
        ["session.timeout.ms"] = "2000",
        ["sasl.password"] = PlantedSecret,
    };

    private readonly TestCluster _cluster;

    public AdminEndpointTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task AdminEndpoint_TokenMetricsReadinessSkipRetryAudit_NoSecretInAnyResponse_Issue9()
    {
        var topic = _cluster.CreateTopic("adm", 2);
        // Offset 2 of partition 0 is refused until an operator skips it; the body says why.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 2, Fault.Status(503) with { Body = "stuck: <downstream> says \u001b[31mno" }));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("orders", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["retry_interval_ms"] = 200 });
        // A second route on a cluster nobody answers: it never joins, so kcp is not ready until it is stopped.
        config.AddRoute("dead", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["cluster"] = "nowhere" });
        var tokenFile = Path.Combine(config.Directory, "admin.token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        await File.AppendAllTextAsync(config.ConfigFile, "  token_file: admin.token\n");
        InsertCluster(config.ConfigFile, "nowhere", "127.0.0.1:1");

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, Token, Patience);
        await kcp.WaitForOutputAsync("Admin endpoint listening on http://" + admin.BaseAddress.Authority, Patience);

        // Access: health without a token; everything else needs the right one.
        Assert.Equal(200, (await admin.SendAsync(HttpMethod.Get, "/healthz", noToken: true)).Status);
        Assert.Equal(401, (await admin.SendAsync(HttpMethod.Get, "/api/v1/routes", noToken: true)).Status);
        Assert.Equal(401, (await admin.SendAsync(HttpMethod.Get, "/metrics", token: "wrong-token-0123456789")).Status);
        Assert.Equal(401, (await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/orders/pause", noToken: true)).Status);
        Assert.Equal(403, (await admin.SendAsync(HttpMethod.Post, "/api/v1/routes/orders/pause", tweak: r => r.Headers.Add("Origin", "http://evil.example"))).Status);

        // Not ready: the dead route has not joined. The reasons only for the token's holder (Issue23).
        var (readyStatus, readyBody) = await admin.SendAsync(HttpMethod.Get, "/readyz", noToken: true);
        Assert.True(readyStatus == 503, readyBody);
        Assert.DoesNotContain("dead", readyBody, StringComparison.Ordinal);
        Assert.Contains("\"ready\": false", readyBody, StringComparison.Ordinal);
        var (authorisedStatus, authorisedBody) = await admin.SendAsync(HttpMethod.Get, "/readyz");
        Assert.True(authorisedStatus == 503, authorisedBody);
        Assert.Contains("route dead", authorisedBody, StringComparison.Ordinal);

        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 10).Select(i => (i % 2, (byte[]?)Encoding.UTF8.GetBytes($"k{i}"), (byte[]?)Encoding.UTF8.GetBytes($"v{i}"))));

        // The stuck message shows in the route's detail with its attempts, status and the sanitised body.
        var detail = await admin.WaitForJsonAsync("/api/v1/routes/orders", d => Failing(d, 0) is { } f && f.GetProperty("attempts").GetInt32() >= 2,
            "partition 0 offset 2 failing with attempts", Patience);
        var failing = Failing(detail, 0)!.Value;
        Assert.Equal(2, failing.GetProperty("offset").GetInt64());
        Assert.Equal("k4", failing.GetProperty("key").GetString());
        Assert.Equal(503, failing.GetProperty("last_status").GetInt32());
        var body = failing.GetProperty("last_body").GetString()!;
        Assert.Contains("stuck: <downstream> says", body, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', body);
        Assert.Equal(1, detail.GetProperty("blocked").GetInt32());

        // Partition 1 is all delivered; partition 0 waits at offset 2.
        await receiver.WaitForAsync(r => r.Accepted().Count(x => x.Partition == 1) >= 5, Patience);

        // Retry now: the next attempt comes at once (the wait is 200 ms; several retries are asked in a row).
        var before = receiver.Requests.Count(r => r.Partition == 0 && r.Offset == 2);
        var (retryStatus, retryBody) = await admin.PostAsync("/api/v1/routes/orders/partitions/0/retry?offset=2");
        Assert.True(retryStatus == 200, retryBody);
        await receiver.WaitForAsync(r => r.Count(x => x.Partition == 0 && x.Offset == 2) > before, Patience);

        // Skip: 409 for a message that is not being retried, then the real one.
        var (conflict, conflictBody) = await admin.PostAsync("/api/v1/routes/orders/partitions/0/skip?offset=3");
        Assert.True(conflict == 409, conflictBody);
        Assert.Contains("\"offset\": 2", conflictBody, StringComparison.Ordinal);
        var (skipStatus, skipBody) = await admin.PostAsync("/api/v1/routes/orders/partitions/0/skip?offset=2");
        Assert.True(skipStatus == 200, skipBody);
        await receiver.WaitForAsync(r => r.Accepted().Count(x => x.Partition == 0) >= 4, Patience);
        var accepted = receiver.Requests.Accepted().Select(r => (r.Partition, r.Offset)).ToHashSet();
        Assert.Equal(9, accepted.Count);
        Assert.DoesNotContain((0, 2L), accepted);

        var skipped = await admin.GetJsonAsync("/api/v1/skipped?route=orders&limit=5");
        var record = Assert.Single(skipped.EnumerateArray());
        Assert.Equal(2, record.GetProperty("offset").GetInt64());
        Assert.True(record.GetProperty("manual").GetBoolean());
        Assert.StartsWith("token holder at 127.0.0.1", record.GetProperty("by").GetString(), StringComparison.Ordinal);
        await kcp.WaitForOutputAsync(l => l.Contains("skipped " + topic + "/0 offset 2", StringComparison.Ordinal) && l.Contains("as token holder at", StringComparison.Ordinal), "the manual skip logged", Patience);

        // Metrics: the counts the receiver saw, lag down to 0, a histogram with samples, runtime metrics.
        var metrics = await WaitForMetricsAsync(admin, m =>
            Value(m, "kcp_messages_delivered_total", "route=\"orders\"") == 9
            && Values(m, "kcp_consumer_lag", "route=\"orders\"").Count == 2
            && Values(m, "kcp_consumer_lag", "route=\"orders\"").All(v => v == 0)
            && Value(m, "kcp_consumer_committed_offset", "route=\"orders\"") == 10
            && Value(m, "kcp_consumer_high_watermark", "route=\"orders\"") == 10, "9 delivered, committed 5 and 5, lag 0 on both partitions");
        Assert.Equal(1, Value(metrics, "kcp_messages_skipped_total", "kind=\"manual\""));
        Assert.True(Value(metrics, "kcp_delivery_attempts_total", "outcome=\"bad_status\"") >= 3, metrics);
        Assert.Equal(9, Value(metrics, "kcp_delivery_attempts_total", "outcome=\"success\""));
        Assert.True(Value(metrics, "kcp_delivery_duration_seconds_count", "route=\"orders\"") >= 12, metrics);
        Assert.Contains("kcp_delivery_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Equal(5, Value(metrics, "kcp_consumer_committed_offset", "messaging_destination_partition_id=\"0\""));
        Assert.Equal(5, Value(metrics, "kcp_consumer_high_watermark", "messaging_destination_partition_id=\"1\""));
        // OpenTelemetry's messaging and HTTP client conventions, with the route's attributes on kcp's own series too.
        Assert.Matches($@"(?m)^kcp_consumer_lag\{{[^}}]*messaging_consumer_group_name=""[^""]+""[^}}]*messaging_destination_name=""{topic}""[^}}]*messaging_destination_partition_id=""0""[^}}]*messaging_system=""kafka""[^}}]*route=""orders""[^}}]*server_address=""127.0.0.1""", metrics);
        Assert.True(Value(metrics, "messaging_client_consumed_messages_total", "route=\"orders\"") >= 10, metrics);
        Assert.True(Value(metrics, "messaging_process_duration_seconds_count", "route=\"orders\"") >= 10, metrics);
        Assert.Equal(1, Value(metrics, "messaging_process_duration_seconds_count", "error_type=\"skipped\""));
        Assert.True(Value(metrics, "kcp_delivery_retries_total", "route=\"orders\"") >= 2, metrics);
        Assert.Equal(0, Value(metrics, "kcp_messages_dead_lettered_total", "route=\"orders\""));
        Assert.Equal(0, Value(metrics, "kcp_offsets_commit_failures_total", "route=\"orders\""));
        Assert.True(Value(metrics, "http_client_request_duration_seconds_count", "http_response_status_code=\"503\"") >= 2, metrics);
        Assert.True(Value(metrics, "http_client_request_duration_seconds_count", "http_response_status_code=\"200\"") >= 9, metrics);
        // The runtime's per-request pool series only with telemetry.http_connection_metrics (Issue22).
        Assert.DoesNotContain("http_client_open_connections", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("http_client_active_requests", metrics, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^target_info\{[^}]*host_name=""[^""]+""[^}]*process_pid=""\d+""[^}]*service_name=""kcp""[^}]*service_version=""[^""]+""[^}]*service_instance_id=""[0-9a-f-]{36}""", metrics);
        Assert.Matches(@"(?m)^kcp_route_state\{[^}]*route=""orders""[^}]*state=""running""\} 1$", metrics);
        Assert.True(Value(metrics, "kcp_consumer_rebalances_total", "route=\"orders\"") >= 1, metrics);
        Assert.Matches("(?m)^dotnet_gc_collections_total", metrics);

        // Readiness flips once the route that cannot join is stopped by the operator.
        var (stopStatus, stopBody) = await admin.PostAsync("/api/v1/routes/dead/stop");
        Assert.True(stopStatus == 200, stopBody);
        Assert.Equal(200, (await admin.SendAsync(HttpMethod.Get, "/readyz", noToken: true)).Status);

        var routes = await admin.GetJsonAsync("/api/v1/routes");
        var orders = routes.GetProperty("routes").EnumerateArray().Single(r => r.GetProperty("route").GetString() == "orders");
        Assert.Equal(0, orders.GetProperty("total_lag").GetInt64());
        Assert.True(orders.GetProperty("delivered_per_second").GetDouble() > 0, orders.ToString());

        // Audit: every state-changing request, refused ones included, with who and the result.
        var audit = await File.ReadAllLinesAsync(Path.Combine(config.StateDir, "audit.jsonl"));
        Assert.Contains(audit, l => l.Contains("/api/v1/routes/orders/partitions/0/skip?offset=2", StringComparison.Ordinal) && l.Contains("\"status\":200", StringComparison.Ordinal) && l.Contains("token holder at", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.Contains("skip?offset=3", StringComparison.Ordinal) && l.Contains("\"status\":409", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.Contains("/api/v1/routes/orders/pause", StringComparison.Ordinal) && l.Contains("\"status\":401", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.Contains("/api/v1/routes/dead/stop", StringComparison.Ordinal) && l.Contains("\"status\":200", StringComparison.Ordinal));

        // No secret in any response.
        foreach (var text in admin.Bodies)
        {
            Assert.DoesNotContain(PlantedSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Token, text, StringComparison.Ordinal);
        }

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        Assert.False(File.Exists(Path.Combine(config.StateDir, "admin.json")), "admin.json is removed at a clean stop");
    }

    [Fact]
    public async Task AdminPortInUse_SecondKcpDoesNotStart_NamesTheAddressAndTheKcpHoldingIt_Exit1_Issue19()
    {
        var topic = _cluster.CreateTopic("adm-port", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var first = new ProxyConfigWriter(_cluster.BootstrapServers);
        first.AddRoute("one", topic, Names.Unique("g"), receiver.Port);
        await using var kcp1 = KcpProcess.Run(first.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(first.StateDir, kcp1, null, Patience);

        using var second = new ProxyConfigWriter(_cluster.BootstrapServers);
        second.AddRoute("two", topic, Names.Unique("g"), receiver.Port);
        var text = await File.ReadAllTextAsync(second.ConfigFile);
        await File.WriteAllTextAsync(second.ConfigFile, text.Replace("listen: \"127.0.0.1:0\"", $"listen: \"{admin.BaseAddress.Authority}\"", StringComparison.Ordinal));
        await using var kcp2 = KcpProcess.Run(second.ConfigFile);

        // An operator who set admin.listen gets the endpoint there or no kcp: the start fails, naming who holds the port.
        Assert.Equal(1, await kcp2.WaitForExitAsync(Patience));
        var line = Assert.Single(kcp2.Output, l => l.Contains("Cannot start", StringComparison.Ordinal));
        Assert.Contains($"admin.listen {admin.BaseAddress.Authority}: the address is already in use by pid {kcp1.Id} (", line, StringComparison.Ordinal);
        Assert.Contains("kcp.dll run --config " + first.ConfigFile, line, StringComparison.Ordinal);
        Assert.DoesNotContain(kcp2.Output, l => l.Contains("Route two started", StringComparison.Ordinal));
        Assert.Equal(200, (await admin.GetAsync("/healthz")).Status);

        kcp1.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp1.WaitForExitAsync(Patience));
    }

    [Theory]
    [InlineData("0.0.0.0:0", "not a loopback address")]
    [InlineData("nonsense", "must be an IP address and port")]
    public async Task Validate_RefusesNonLoopbackListenWithoutToken_AndBadAddresses_Issue9(string listen, string expected)
    {
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", "t", "g", 1);
        var text = await File.ReadAllTextAsync(config.ConfigFile);
        await File.WriteAllTextAsync(config.ConfigFile, text.Replace("listen: \"127.0.0.1:0\"", $"listen: \"{listen}\"", StringComparison.Ordinal));
        await using var kcp = KcpProcess.Validate(config.ConfigFile);
        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Contains(kcp.Output, l => l.Contains("admin.listen", StringComparison.Ordinal) && l.Contains(expected, StringComparison.Ordinal));
    }

    private static void InsertCluster(string configFile, string name, string servers)
    {
        var text = File.ReadAllText(configFile);
        text = text.Replace("clusters:\n", $"clusters:\n  {name}:\n    bootstrap_servers: \"{servers}\"\n    consumer_conf:\n      socket.connection.setup.timeout.ms: \"1000\"\n", StringComparison.Ordinal);
        File.WriteAllText(configFile, text);
    }

    private static JsonElement? Failing(JsonElement detail, int partition)
    {
        foreach (var p in detail.GetProperty("partitions").EnumerateArray())
        {
            if (p.GetProperty("partition").GetInt32() == partition && p.GetProperty("failing").ValueKind == JsonValueKind.Object)
            {
                return p.GetProperty("failing");
            }
        }

        return null;
    }

    [Fact]
    public async Task HttpConnectionMetrics_True_ExportsTheRuntimesPoolSeries_WithoutOtlp_Issue22()
    {
        var topic = _cluster.CreateTopic("admpool", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, QuickConf);
        config.AddRoute("orders", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain("telemetry:\n  http_connection_metrics: true\n");
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 3).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"v{i}"))));

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        var metrics = await WaitForMetricsAsync(admin, m => Value(m, "kcp_messages_delivered_total", "route=\"orders\"") == 3, "3 delivered");

        // Both series, with the endpoint's address; after the answers no request is active and the connection is idle.
        Assert.Contains($"server_port=\"{receiver.Port}\"", Assert.Single(metrics.Split('\n'), l => l.StartsWith("http_client_active_requests{", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Equal(0, Value(metrics, "http_client_active_requests", $"server_port=\"{receiver.Port}\""));
        Assert.Equal(1, Value(metrics, "http_client_open_connections", "http_connection_state=\"idle\""));
        Assert.True(Value(metrics, "http_client_request_duration_seconds_count", "http_response_status_code=\"200\"") >= 3, metrics);
    }

    private static async Task<string> WaitForMetricsAsync(AdminClient admin, Func<string, bool> condition, string what)
    {
        var (_, body) = await Eventually.ValueAsync(
            () => admin.GetAsync("/metrics"),
            answer => answer.Status == 200 && condition(answer.Body),
            "metrics: " + what,
            Patience,
            answer => $"{answer.Status}\n" + string.Join('\n', answer.Body.Split('\n').Where(l => l.StartsWith("kcp_", StringComparison.Ordinal))),
            TimeSpan.FromMilliseconds(200));
        return body;
    }

    /// <summary>Every sample of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static List<double> Values(string metrics, string name, string label) =>
        [.. metrics.Split('\n')
            .Select(l => Regex.Match(l, "^" + Regex.Escape(name) + @"\{([^}]*)\} (\S+)"))
            .Where(m => m.Success && m.Groups[1].Value.Contains(label, StringComparison.Ordinal))
            .Select(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))];

    private static double Value(string metrics, string name, string label) => Values(metrics, name, label).Sum();
}
