using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Admin;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>
/// Debian's Prometheus (/usr/bin/prometheus, installed by .ci/run) scraping a running kcp: the lag series, the resource
/// and the HTTP client series through Prometheus's own HTTP API, deploy/prometheus/alerts.yaml evaluated on the real
/// series, and every query of deploy/grafana/kcp-dashboard.json accepted.
/// </summary>
public sealed class PrometheusScrapeTests : IClassFixture<TestCluster>
{
    private const string Executable = "/usr/bin/prometheus";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly TestCluster _cluster;

    public PrometheusScrapeTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Prometheus_ScrapesKcp_LagAlertRulesAndDashboardQueriesWork_Issue18()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: this test needs Debian's prometheus (apt-get install -y prometheus; .ci/run installs it)");
        var topic = _cluster.CreateTopic("prom", 1);
        // Offset 2 is refused every time: the partition stays 4 behind (offsets 2 to 5 of 6).
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 2, Fault.Status(503)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("prom", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["retry_interval_ms"] = 200 });
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 6).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"v{i}"))));
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);

        await using var prometheus = await PrometheusServer.StartAsync(admin.BaseAddress.Authority, Path.Combine(Deploy(), "prometheus", "alerts.yaml"));

        // The lag series through Prometheus's query API, with the messaging attributes.
        var lag = await prometheus.WaitForResultAsync("kcp_consumer_lag{route=\"prom\"}", r => r.Count == 1 && Value(r[0]) == 4, "lag 4 on partition 0", Patience);
        var labels = lag[0].GetProperty("metric");
        Assert.Equal(("kcp", topic, "0", "kafka"), (labels.GetProperty("job").GetString(), labels.GetProperty("messaging_destination_name").GetString(),
            labels.GetProperty("messaging_destination_partition_id").GetString(), labels.GetProperty("messaging_system").GetString()));
        var info = await prometheus.WaitForResultAsync("target_info{job=\"kcp\"}", r => r.Count == 1, "target_info", Patience);
        Assert.Equal("kcp", info[0].GetProperty("metric").GetProperty("service_name").GetString());
        await prometheus.WaitForResultAsync("sum(http_client_request_duration_seconds_count{http_response_status_code=\"503\"})", r => r.Count == 1 && Value(r[0]) >= 1, "503 answers counted", Patience);
        await prometheus.WaitForResultAsync("kcp_messages_dead_lettered_total{route=\"prom\"}", r => r.Count == 1 && Value(r[0]) == 0, "dead-lettered exported at 0", Patience);
        await prometheus.WaitForResultAsync("kcp_breaker_state{route=\"prom\"}", r => r.Count == 1 && Value(r[0]) is >= 0 and <= 2, "the breaker's state exported", Patience);

        // The alert rules load and evaluate on the real series without error.
        using var rules = await Eventually.ValueAsync(
            () => prometheus.GetAsync("/api/v1/rules"),
            d => d is not null && Rules(d).Count == 7 && Rules(d).All(r => r.GetProperty("health").GetString() == "ok"),
            "7 alert rules evaluated with health ok", Patience, d => d?.RootElement.ToString() ?? "no answer", TimeSpan.FromMilliseconds(500));

        // Every query of the dashboard is one Prometheus accepts.
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Deploy(), "grafana", "kcp-dashboard.json")));
        var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.NotEmpty(queries);
        foreach (var query in queries)
        {
            var expr = query.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$route", ".*", StringComparison.Ordinal).Replace("$job", ".*", StringComparison.Ordinal);
            using var answer = await prometheus.QueryAsync(expr);
            Assert.True(answer.RootElement.GetProperty("status").GetString() == "success", $"{expr}: {answer.RootElement}");
        }

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static double Value(JsonElement sample) =>
        double.Parse(sample.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);

    private static List<JsonElement> Rules(JsonDocument answer) =>
        [.. answer.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray())];

    private static string Deploy()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KafkaConsumerProxy.slnx")))
                return Path.Combine(dir.FullName, "deploy");
        }

        throw new DirectoryNotFoundException("deploy/ not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Prometheus on 127.0.0.1 with a free port, its own config and storage in a temporary directory, scraping one target every second.</summary>
    private sealed class PrometheusServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly DirectoryInfo _directory;
        private readonly HttpClient _http;
        private readonly StringBuilder _log = new();

        private PrometheusServer(Process process, DirectoryInfo directory, int port)
        {
            _process = process;
            _directory = directory;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        }

        public static async Task<PrometheusServer> StartAsync(string target, string rulesFile)
        {
            // The free port is released before Prometheus binds it, so another listener may take it first: Prometheus
            // then exits at once ("address already in use") and is started again on another port, at most three times.
            for (var attempt = 1; ; attempt++)
            {
                var server = await StartOnceAsync(target, rulesFile);
                if (attempt == 3 || !await server.LostItsPortAsync())
                    return server;
                await server.DisposeAsync();
            }
        }

        private static async Task<PrometheusServer> StartOnceAsync(string target, string rulesFile)
        {
            var directory = Directory.CreateTempSubdirectory("kcp-prometheus-");
            var configFile = Path.Combine(directory.FullName, "prometheus.yml");
            await File.WriteAllTextAsync(configFile,
                $"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - \"{rulesFile}\"\nscrape_configs:\n  - job_name: kcp\n    static_configs:\n      - targets: [\"{target}\"]\n");
            var port = FreePort();
            var start = new ProcessStartInfo(Executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { $"--config.file={configFile}", $"--storage.tsdb.path={Path.Combine(directory.FullName, "data")}", $"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h" })
                start.ArgumentList.Add(arg);
            var process = Process.Start(start)!;
            var server = new PrometheusServer(process, directory, port);
            process.OutputDataReceived += (_, e) => server.Note(e.Data);
            process.ErrorDataReceived += (_, e) => server.Note(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return server;
        }

        /// <summary>
        /// Waits (bounded) until Prometheus says it listens or exits; true when it exited because its port was taken.
        /// </summary>
        private async Task<bool> LostItsPortAsync()
        {
            var listening = await Eventually.ValueAsync(
                () => Task.FromResult((Said: Log().Contains("msg=\"Listening on\"", StringComparison.Ordinal), Exited: _process.HasExited)),
                s => s.Said || s.Exited, "Prometheus listening or exited", Patience, _ => Tail(), TimeSpan.FromMilliseconds(100));
            if (!listening.Exited)
                return false;
            await _process.WaitForExitAsync();
            return Log().Contains("address already in use", StringComparison.Ordinal);
        }

        public async Task<JsonDocument> QueryAsync(string query) =>
            await GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)) ?? throw new InvalidOperationException($"Prometheus did not answer: {Tail()}");

        /// <summary>Polls an instant query until its result satisfies <paramref name="condition"/>; fails when Prometheus exits.</summary>
        public async Task<List<JsonElement>> WaitForResultAsync(string query, Func<List<JsonElement>, bool> condition, string what, TimeSpan timeout)
        {
            var found = await Eventually.ValueAsync(
                async () =>
                {
                    using var answer = await GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
                    return answer is null ? [] : answer.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(e => e.Clone()).ToList();
                },
                condition, $"{what} ({query})", timeout, r => $"{string.Join(", ", r)}; Prometheus log: {Tail()}", TimeSpan.FromMilliseconds(500));
            return found;
        }

        /// <summary>The JSON answer of a GET; null while Prometheus does not answer yet or answers that it is not ready.</summary>
        public async Task<JsonDocument?> GetAsync(string path)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Prometheus exited with {_process.ExitCode}: {Tail()}");
            try
            {
                using var response = await _http.GetAsync(path);
                // While it starts, Prometheus answers 503 "Service Unavailable" in plain text: not ready yet. Its API's
                // own errors (a bad query) are JSON and are returned.
                return response.Content.Headers.ContentType?.MediaType == "application/json"
                    ? JsonDocument.Parse(await response.Content.ReadAsStringAsync())
                    : null;
            }
            catch (HttpRequestException)
            {
                return null;
            }
            catch (TaskCanceledException)
            {
                return null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            _directory.Delete(recursive: true);
        }

        private void Note(string? line)
        {
            if (line is null)
                return;
            lock (_log)
                _log.AppendLine(line);
        }

        private string Log()
        {
            lock (_log)
                return _log.ToString();
        }

        private string Tail()
        {
            var text = Log();
            return text.Length > 2000 ? text[^2000..] : text;
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
