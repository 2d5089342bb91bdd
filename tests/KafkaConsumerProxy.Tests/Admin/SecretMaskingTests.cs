using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>
/// Endpoints that echo their credentials back, through a real kcp process: every secret of bearer, basic, OAuth2 (with
/// the tokens it fetched) and HMAC is masked in the API, the dashboard (Debian's chromium), the log, the skip records,
/// the dead-letter headers and the audit. And an OAuth2 token endpoint that fails is named as such.
/// </summary>
public sealed class SecretMaskingTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly string[] Routes = ["bearer", "basic", "oauth", "hmac"];

    private readonly TestCluster _cluster;

    public SecretMaskingTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task EchoedSecrets_MaskedInApiDashboardLogSkipRecordsDeadLetterAndAudit_Issue23()
    {
        HeadlessChromium.AssertInstalled();
        var id = Guid.NewGuid().ToString("N")[..12];
        var bearer = $"tok-bearer-{id}";
        var password = $"pw+basic/{id}";
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"kcp:{password}"));
        var clientSecret = $"cs-oauth-{id}";
        var hmacKey = Convert.ToBase64String(Encoding.UTF8.GetBytes($"hmac-key-{id}"));
        var hmac = "whsec_" + hmacKey;
        var issued = new ConcurrentQueue<string>();
        await using var tokens = await ScriptedEndpoint.StartAsync(async context =>
        {
            var token = $"at-{Guid.NewGuid():N}";
            issued.Enqueue(token);
            await context.Response.WriteAsync($"{{\"access_token\":\"{token}\",\"expires_in\":3600}}");
        });

        // Each endpoint refuses with a JSON body (as System.Text.Json writes it: '+' as \u002B) quoting what it was sent.
        var echoes = new Dictionary<string, Func<ReceivedRequest, string>>
        {
            ["bearer"] = r => $"bad auth: {r.Header("Authorization")}",
            ["basic"] = r => $"bad auth: {r.Header("Authorization")} (password {password})",
            ["oauth"] = r => $"bad auth: {r.Header("Authorization")}, client secret {clientSecret}",
            ["hmac"] = r => $"bad signature with {hmac} (key {hmacKey})",
        };
        var auths = new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["bearer"] = new Dictionary<string, string> { ["type"] = "bearer", ["token"] = bearer },
            ["basic"] = new Dictionary<string, string> { ["type"] = "basic", ["username"] = "kcp", ["password"] = password },
            ["oauth"] = new Dictionary<string, string> { ["type"] = "oauth2_client_credentials", ["token_url"] = $"http://127.0.0.1:{tokens.Port}/token", ["client_id"] = "kcp-client", ["client_secret"] = clientSecret },
            ["hmac"] = new Dictionary<string, string> { ["type"] = "hmac", ["secret"] = hmac },
        };
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var receivers = new List<RecordingReceiver>();
        var deadLetters = new Dictionary<string, string>();
        try
        {
            foreach (var route in Routes)
            {
                var echo = echoes[route];
                var receiver = await RecordingReceiver.StartAsync(r => Fault.Errno(401, echo(r)));
                receivers.Add(receiver);
                var topic = _cluster.CreateTopic("mask-" + route, 1);
                deadLetters[route] = _cluster.CreateTopic("mask-dlq-" + route, 1);
                config.AddRoute(route, topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
                {
                    ["retry_nums"] = 100_000,
                    ["retry_interval_ms"] = 200,
                    ["dead_letter_topic"] = deadLetters[route],
                    ["auth"] = auths[route],
                });
                await _cluster.ProduceAsync(topic, [(0, (byte[]?)null, (byte[]?)"m0"u8.ToArray())]);
            }

            await using var kcp = KcpProcess.Run(config.ConfigFile);
            using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);

            // The API: each route's failing message with the body and the reason, every secret masked.
            foreach (var route in Routes)
            {
                var detail = await admin.WaitForJsonAsync($"/api/v1/routes/{route}", d => Failing(d) is { } f && f.GetProperty("attempts").GetInt32() >= 2,
                    $"{route}: offset 0 failing twice", Patience);
                var failing = Failing(detail)!.Value;
                Assert.Contains("***", failing.GetProperty("last_body").GetString(), StringComparison.Ordinal);
                Assert.Contains("errno 401", failing.GetProperty("last_reason").GetString(), StringComparison.Ordinal);
                Assert.Contains("***", failing.GetProperty("last_reason").GetString(), StringComparison.Ordinal);
            }

            Assert.NotEmpty(issued);
            var secrets = (IReadOnlyList<string>)[bearer, password, basic, clientSecret, hmac, hmacKey, .. issued];
            foreach (var body in admin.Bodies)
                AssertMasked(secrets, body, "an API answer");

            // The dashboard in a real browser.
            await AssertDashboardMaskedAsync(admin.BaseAddress, secrets);

            // A skip by the operator (the request quoting a secret, as a careless one might): skip record, dead letter, audit.
            foreach (var route in Routes)
            {
                var (status, answer) = await admin.PostAsync($"/api/v1/routes/{route}/partitions/0/skip?offset=0&note={Uri.EscapeDataString(bearer)}");
                Assert.True(status == 200, answer);
            }

            var skipped = File.ReadAllLines(config.SkipFile);
            Assert.Equal(Routes.Length, skipped.Length);
            foreach (var line in skipped)
            {
                using var record = JsonDocument.Parse(line);
                Assert.Contains("errno 401", record.RootElement.GetProperty("last_failure").GetString(), StringComparison.Ordinal);
                AssertMasked(secrets, line, "a skip record");
            }

            foreach (var route in Routes)
            {
                var message = Assert.Single(DeadLetterTests.ReadAll(_cluster.BootstrapServers, deadLetters[route], 1));
                var headers = message.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
                Assert.Contains("***", headers["kcp.dlq.last_body"], StringComparison.Ordinal);
                Assert.Contains("***", headers["kcp.dlq.last_failure"], StringComparison.Ordinal);
                AssertMasked(secrets, string.Join("\n", headers.Values), $"{route}'s dead-letter headers");
            }

            var audit = await File.ReadAllTextAsync(Path.Combine(config.StateDir, "audit.jsonl"));
            Assert.Contains("note=***", audit, StringComparison.Ordinal);
            AssertMasked(secrets, audit, "the audit");

            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
            foreach (var route in Routes)
                Assert.Contains(kcp.Output, l => l.Contains($"Route {route}:", StringComparison.Ordinal) && l.Contains("errno 401", StringComparison.Ordinal));
            AssertMasked(secrets, string.Join("\n", kcp.Output), "the log");
        }
        finally
        {
            foreach (var receiver in receivers)
                await receiver.DisposeAsync();
        }
    }

    [Fact]
    public async Task OAuth2TokenEndpointSilentOrFailing_ApiAndLogNameTheTokenRequest_EndpointNotCalled_Issue23()
    {
        await using var silent = await ScriptedEndpoint.StartAsync(context => Task.Delay(Timeout.Infinite, context.RequestAborted));
        await using var failing = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.StatusCode = 500;
            await context.Response.WriteAsync("idp down");
        });
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var expected = new Dictionary<string, string>
        {
            ["silent"] = $"auth_error, not sent to 127.0.0.1:{receiver.Port}: token request to token_url http://127.0.0.1:{silent.Port}/token had no answer within exec_timeout_ms=1000",
            ["failing"] = $"auth_error, not sent to 127.0.0.1:{receiver.Port}: token request to token_url http://127.0.0.1:{failing.Port}/token answered HTTP 500: idp down",
        };
        var topics = new Dictionary<string, string>();
        foreach (var (route, port) in new[] { ("silent", silent.Port), ("failing", failing.Port) })
        {
            topics[route] = _cluster.CreateTopic("token-" + route, 1);
            config.AddRoute(route, topics[route], Names.Unique("g"), receiver.Port, new Dictionary<string, object>
            {
                ["retry_nums"] = 100_000,
                ["retry_interval_ms"] = 200,
                ["exec_timeout_ms"] = 1000,
                ["auth"] = new Dictionary<string, string> { ["type"] = "oauth2_client_credentials", ["token_url"] = $"http://127.0.0.1:{port}/token", ["client_id"] = "kcp", ["client_secret"] = "client-secret-value" },
            });
        }

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        foreach (var route in expected.Keys)
            await _cluster.ProduceAsync(topics[route], [(0, (byte[]?)null, (byte[]?)"m0"u8.ToArray())]);

        foreach (var (route, reason) in expected)
        {
            var detail = await admin.WaitForJsonAsync($"/api/v1/routes/{route}", d => Failing(d) is { } f && f.GetProperty("attempts").GetInt32() >= 2,
                $"{route}: offset 0 failing twice", Patience);
            var message = Failing(detail)!.Value;
            Assert.Equal("auth_error", message.GetProperty("last_outcome").GetString());
            Assert.Equal(reason, message.GetProperty("last_reason").GetString());
            await kcp.WaitForOutputAsync(l => l.Contains($"Route {route}:", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal), $"{route}'s failure logged", Patience);
        }

        Assert.Empty(receiver.Requests);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    // Neither a secret nor its JSON-escaped form (System.Text.Json writes '+' as \u002B).
    private static void AssertMasked(IReadOnlyList<string> secrets, string text, string where)
    {
        foreach (var secret in secrets)
        {
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{where} shows the secret {secret}:\n{text}");
            var json = JsonEncodedText.Encode(secret).ToString();
            Assert.False(text.Contains(json, StringComparison.Ordinal), $"{where} shows the secret {json}:\n{text}");
        }
    }

    private static async Task AssertDashboardMaskedAsync(Uri address, IReadOnlyList<string> secrets)
    {
        await using var chromium = await HeadlessChromium.LaunchAsync(Patience);
        var page = chromium.Page;
        await page.GotoAsync(address.ToString());
        foreach (var route in Routes)
        {
            var row = page.Locator($"#partitions tr.failing[data-route='{route}']");
            await row.WaitForAsync();
            var text = await row.InnerTextAsync();
            Assert.Contains("bad ", text, StringComparison.Ordinal);
            Assert.Contains("***", text, StringComparison.Ordinal);
        }

        AssertMasked(secrets, await page.InnerTextAsync("body"), "the dashboard's text");
        AssertMasked(secrets, await page.ContentAsync(), "the dashboard's HTML");
    }

    private static JsonElement? Failing(JsonElement detail)
    {
        foreach (var p in detail.GetProperty("partitions").EnumerateArray())
        {
            if (p.GetProperty("partition").GetInt32() == 0 && p.GetProperty("failing").ValueKind == JsonValueKind.Object)
                return p.GetProperty("failing");
        }

        return null;
    }
}
