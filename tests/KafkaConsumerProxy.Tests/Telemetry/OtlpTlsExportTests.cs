using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Tests.Delivery.Tls;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>
/// The telemetry TLS keys through the real <c>kcp run</c> process, against <see cref="OtlpCollector"/> served over HTTPS
/// with certificates made in the test: a collector certificate from a private CA (<c>otlp_ca_file</c>) and a collector
/// that requires a client certificate (<c>otlp_client_cert_file</c>/<c>otlp_client_key_file</c>). A failing export is
/// logged and never touches the deliveries.
/// </summary>
public sealed class OtlpTlsExportTests : IClassFixture<TestCluster>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(20);

    private readonly TestCluster _cluster;
    private readonly TestCertificates _certs = new();

    public OtlpTlsExportTests(TestCluster cluster) => _cluster = cluster;

    public void Dispose() => _certs.Dispose();

    [Fact]
    public async Task Run_CollectorCertificateFromAPrivateCa_WithOtlpCaFile_SpansArrive_OtlpTls()
    {
        var ca = _certs.Ca("Collector CA");
        await using var collector = await OtlpCollector.StartAsync(https: TlsEndpoint.HttpsOptions(CollectorCertificate(ca), clientCa: null));
        var keys = $"  otlp_ca_file: \"{_certs.Write(ca, "collector-ca.pem")}\"\n";

        await RunAndExpectSpansAsync(collector, keys);
    }

    [Theory]
    // Without otlp_ca_file the exporter's own client checks against the system trust store, which lacks the test CA.
    [InlineData(false, "The SSL connection could not be established")]
    // With another CA the route TLS connector says which check failed and which key to look at.
    [InlineData(true, "unknown CA: the server's certificate (issued by CN=Collector CA) does not chain to a CA of telemetry.otlp_ca_file")]
    public async Task Run_CollectorCertificateFromAPrivateCa_NotTrusted_FailureLoggedAndDeliveriesUnaffected_OtlpTls(bool otherCa, string reason)
    {
        var ca = _certs.Ca("Collector CA");
        await using var collector = await OtlpCollector.StartAsync(https: TlsEndpoint.HttpsOptions(CollectorCertificate(ca), clientCa: null));
        var keys = otherCa ? $"  otlp_ca_file: \"{_certs.Write(_certs.Ca("Other CA"), "other-ca.pem")}\"\n" : "";

        await RunAndExpectFailureAsync(collector, keys, reason);
    }

    [Fact]
    public async Task Run_CollectorRequiresAClientCertificate_WithCertAndKey_SpansArrive_OtlpTls()
    {
        var ca = _certs.Ca("Collector CA");
        var clientCa = _certs.Ca("Client CA");
        var issuing = _certs.Intermediate(clientCa, "Client Issuing CA");
        await using var collector = await OtlpCollector.StartAsync(https: TlsEndpoint.HttpsOptions(CollectorCertificate(ca), clientCa));
        // The collector trusts only the root: the intermediate reaches it because the chain in the file is sent.
        var cert = _certs.WriteWithChain(_certs.Leaf(issuing, "kcp-exporter", client: true, ["kcp"]), [issuing], "client.pem", "client.key");
        var keys = $"  otlp_ca_file: \"{_certs.Write(ca, "collector-ca.pem")}\"\n  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{_certs.PathOf("client.key")}\"\n";

        await RunAndExpectSpansAsync(collector, keys);
    }

    [Fact]
    public async Task Run_CollectorRequiresAClientCertificate_WithoutIt_FailureLoggedAndDeliveriesUnaffected_OtlpTls()
    {
        var ca = _certs.Ca("Collector CA");
        await using var collector = await OtlpCollector.StartAsync(https: TlsEndpoint.HttpsOptions(CollectorCertificate(ca), _certs.Ca("Client CA")));
        var keys = $"  otlp_ca_file: \"{_certs.Write(ca, "collector-ca.pem")}\"\n";

        await RunAndExpectFailureAsync(collector, keys, "client certificate required: the server asked for one and telemetry.otlp_client_cert_file is not set");
    }

    [Fact]
    public async Task Reload_OtlpCaFileChanged_ReportedAsNeedingARestartAndExportGoesOnAsBefore_OtlpTls()
    {
        var ca = _certs.Ca("Collector CA");
        await using var collector = await OtlpCollector.StartAsync(https: TlsEndpoint.HttpsOptions(CollectorCertificate(ca), clientCa: null));
        var caFile = _certs.Write(ca, "collector-ca.pem");
        var otherCaFile = _certs.Write(_certs.Ca("Other CA"), "other-ca.pem");
        var topic = _cluster.CreateTopic("otlp-tls-reload", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  otlp_export_interval_ms: 1000\n  otlp_ca_file: \"{caFile}\"\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await collector.WaitForAsync(c => c.Metrics.Any(m => m.Name == "kcp.route.state"), Patience, () => $"no metrics before the reload; {kcp.Tail()}");

        var text = await File.ReadAllTextAsync(config.ConfigFile);
        await File.WriteAllTextAsync(config.ConfigFile, text.Replace(caFile, otherCaFile, StringComparison.Ordinal));
        var line = await kcp.WaitForOutputAsync("Reload: telemetry changed from", Patience);

        Assert.Contains($"CA file {otherCaFile}", line, StringComparison.Ordinal);
        Assert.Contains("it applies only after a restart of kcp", line, StringComparison.Ordinal);
        // Still the CA kcp started with: the collector keeps getting metrics.
        var seen = collector.Requests.Count(r => r.Path == "/v1/metrics");
        await collector.WaitForAsync(c => c.Requests.Count(r => r.Path == "/v1/metrics") >= seen + 2, Patience, () => $"metrics export stopped after the reload; {kcp.Tail()}");
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("OTLP export failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_OtelCertificateVariablesSet_NotUsedKcpYamlIsTheOnePlace_OtlpTls()
    {
        // The exporter's own client would read these (and fail the start on a file it cannot read).
        var missing = _certs.PathOf("not-there.pem");
        var environment = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_CERTIFICATE"] = missing,
            ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"] = missing,
            ["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = missing,
        };
        await using var collector = await OtlpCollector.StartAsync();

        await RunAndExpectSpansAsync(collector, "", environment);
    }

    private X509Certificate2 CollectorCertificate(X509Certificate2 ca) => _certs.Leaf(ca, "collector", client: false, ["localhost"], [IPAddress.Loopback]);

    private async Task RunAndExpectSpansAsync(OtlpCollector collector, string tlsKeys, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var topic = _cluster.CreateTopic("otlp-tls", 1);
        var traceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await ProduceWithTraceparentAsync(topic, traceId);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("tls", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  otlp_export_interval_ms: 1000\n" + tlsKeys);

        await using var kcp = KcpProcess.Run(config.ConfigFile, environment ?? new Dictionary<string, string?>());
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 1 }, Patience);
        await collector.WaitForAsync(c => c.Spans.Any(s => s.TraceId == traceId) && c.Metrics.Any(m => m.Name == "kcp.messages.delivered"), Patience,
            () => $"{collector.Spans.Count} span(s), metrics {string.Join(", ", collector.Metrics.Select(m => m.Name).Distinct())}; {kcp.Tail()}");
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        if (tlsKeys.Length > 0)
            Assert.Contains(kcp.StdOut, l => l.Contains("OTLP export TLS: the collector's certificate must chain to the CAs of", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("OTLP export failed", StringComparison.Ordinal));
    }

    private async Task RunAndExpectFailureAsync(OtlpCollector collector, string tlsKeys, string reason)
    {
        const int Messages = 10;
        var topic = _cluster.CreateTopic("otlp-tls-fail", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Messages / 2));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("tls", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  otlp_export_interval_ms: 1000\n" + tlsKeys);

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        var line = await kcp.WaitForOutputAsync("OTLP export failed", Patience);
        // Produced while the export keeps failing: delivered all the same.
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Messages / 2));
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = Messages }, Patience);
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = Messages });
        var failures = kcp.Output.Where(l => l.Contains("OTLP export failed", StringComparison.Ordinal)).ToList();
        Assert.True(failures.Any(l => l.Contains(reason, StringComparison.Ordinal)), $"no failure line says '{reason}':\n{string.Join('\n', failures)}");
        // Named as configured: https://, never the http:// URL the connector's client is given inside the process.
        Assert.DoesNotContain(failures, l => l.Contains("http://127.0.0.1", StringComparison.Ordinal));
        Assert.Empty(collector.Requests);
        Assert.NotNull(line);
    }

    private async Task ProduceWithTraceparentAsync(string topic, string traceId)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, Acks = Acks.All })
            .SetLogHandler((_, _) => { })
            .Build();
        var spanId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<byte[]?, byte[]?>
        {
            Value = Encoding.UTF8.GetBytes(traceId),
            Headers = new Headers { { "traceparent", Encoding.ASCII.GetBytes($"00-{traceId}-{spanId}-01") } },
        });
    }
}
