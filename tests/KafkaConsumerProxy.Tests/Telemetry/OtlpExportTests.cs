using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>
/// <c>telemetry.otlp_endpoint</c> through the real <c>kcp run</c> process: spans and metrics reach an OTLP/HTTP collector
/// stand-in, the last spans are flushed at a clean stop, and a collector that is down or never answers neither
/// slows nor breaks deliveries nor floods the log.
/// </summary>
public sealed class OtlpExportTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // A stop commits, leaves the group and flushes the export (at most OtlpExport.FlushTimeout, 5 s): far below this.
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(20);

    private readonly TestCluster _cluster;

    public OtlpExportTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Run_OtlpEndpoint_DeliverySpansCarryTheRecordTraceAndMetricsAreExported_Issue11()
    {
        var topic = _cluster.CreateTopic("otlp", 1);
        var group = Names.Unique("g");
        var service = Names.Unique("kcp-svc");
        // Sent as written: the exporter percent-decodes its header option, so kcp encodes '%'.
        const string ApiKey = "otlp-api-key-5e1d9c=+/%41";
        var traces = Enumerable.Range(0, 3).Select(_ => (TraceId: NewHex(16), SpanId: NewHex(8))).ToList();
        await ProduceWithTraceparentAsync(topic, traces);
        // Offset 3: a trace its producer did not sample (flags 00): continued to the endpoint, not exported.
        var unsampled = (TraceId: NewHex(16), SpanId: NewHex(8));
        await ProduceWithTraceparentAsync(topic, [unsampled], sampled: false);
        await using var collector = await OtlpCollector.StartAsync();
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("traced", topic, group, receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  service_name: \"{service}\"\n  otlp_export_interval_ms: 1000\n  otlp_headers:\n    x-api-key: \"{ApiKey}\"\n");

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = traces.Count + 1 }, Patience);
        await collector.WaitForAsync(c => traces.All(t => c.Spans.Any(s => s.TraceId == t.TraceId)), Patience,
            () => $"spans of traces {string.Join(", ", traces.Where(t => !collector.Spans.Any(s => s.TraceId == t.TraceId)).Select(t => t.TraceId))} missing; got {collector.Spans.Count} span(s); {kcp.Tail()}");
        await collector.WaitForAsync(c => c.Metrics.Any(m => m.Name == "kcp.messages.delivered" && m.Points.Any(p => Equals(p.GetValueOrDefault("route"), "traced"))), Patience,
            () => $"no kcp.messages.delivered for route traced; metrics: {string.Join(", ", collector.Metrics.Select(m => m.Name).Distinct())}");

        foreach (var (trace, offset) in traces.Select((t, i) => (t, (long)i)))
        {
            var span = Assert.Single(collector.Spans, s => s.TraceId == trace.TraceId);
            Assert.Equal((trace.SpanId, $"{topic} process", 3, "KafkaConsumerProxy"), (span.ParentSpanId, span.Name, span.Kind, span.Scope));
            Assert.Equal(("kafka", topic, "0", offset, group, 200L),
                (span.Attributes["messaging.system"], span.Attributes["messaging.destination.name"], span.Attributes["messaging.destination.partition.id"],
                 span.Attributes["messaging.kafka.offset"], span.Attributes["messaging.consumer.group.name"], span.Attributes["http.response.status_code"]));
            // The request the endpoint got carries this very span as its parent.
            var request = Assert.Single(receiver.Requests, r => r.Offset == offset);
            Assert.Equal($"00-{trace.TraceId}-{span.SpanId}-01", request.Headers["traceparent"]);
            Assert.Equal(service, span.Resource["service.name"]);
            Assert.True(Guid.TryParse(span.Resource["service.instance.id"] as string, out _), $"service.instance.id {span.Resource.GetValueOrDefault("service.instance.id")}");
            Assert.False(string.IsNullOrEmpty(span.Resource["service.version"] as string));
        }

        // Log lines are exported as log records beside the spans and metrics, with their values as attributes (Issue18).
        await collector.WaitForAsync(c => c.Logs.Any(l => Equals(l.Attributes.GetValueOrDefault("Route"), "traced") && l.Body.Contains("started", StringComparison.Ordinal)), Patience,
            () => $"no log record 'Route traced started'; logs: {string.Join(" | ", collector.Logs.Select(l => l.Body).Take(10))}");
        var started = collector.Logs.First(l => Equals(l.Attributes.GetValueOrDefault("Route"), "traced") && l.Body.Contains("started", StringComparison.Ordinal));
        Assert.Equal((service, topic, 9), (started.Resource["service.name"], started.Attributes["Topic"], started.Severity));
        Assert.Equal(collector.Spans[0].Resource["service.instance.id"], started.Resource["service.instance.id"]);

        // The .NET runtime's metrics are exported too, as /metrics has them; of its HTTP client series not the two
        // recorded on every request, which only telemetry.http_connection_metrics turns on (Issue22). They would be in
        // the same export as the request durations of the same requests.
        Assert.Contains(collector.Metrics, m => m.Name.StartsWith("dotnet.", StringComparison.Ordinal) || m.Name.StartsWith("process.runtime.dotnet.", StringComparison.Ordinal));
        await collector.WaitForAsync(c => c.Metrics.Any(m => m.Name == "http.client.request.duration"), Patience,
            () => $"no http.client.request.duration; metrics: {string.Join(", ", collector.Metrics.Select(m => m.Name).Distinct())}");
        Assert.DoesNotContain(collector.Metrics, m => m.Name is "http.client.open_connections" or "http.client.active_requests");
        Assert.All(collector.Requests, r => Assert.Equal(("application/x-protobuf", ApiKey), (r.ContentType, r.Headers.GetValueOrDefault("x-api-key"))));
        Assert.Contains(kcp.StdOut, l => l.Contains("OTLP export on", StringComparison.Ordinal) && l.Contains(service, StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("otlp-api-key-5e1d9c", StringComparison.Ordinal));

        // A record delivered just before a clean stop: its span leaves with the flush at stop, not with a later batch.
        var last = (TraceId: NewHex(16), SpanId: NewHex(8));
        await ProduceWithTraceparentAsync(topic, [last]);
        await receiver.WaitForAsync(r => r.Any(x => x.Offset == traces.Count + 1), Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Assert.Contains(collector.Spans, s => s.TraceId == last.TraceId);
        Assert.StartsWith($"00-{unsampled.TraceId}-", Assert.Single(receiver.Requests, r => r.Offset == traces.Count).Headers["traceparent"], StringComparison.Ordinal);
        Assert.DoesNotContain(collector.Spans, s => s.TraceId == unsampled.TraceId);
        Assert.DoesNotContain(kcp.Output, l => l.Contains("OTLP export failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_OtlpHeaderWithReferenceInsideValue_CollectorGetsItResolved_Issue23()
    {
        // docs/CONFIGURATION.md's example: Authorization: "Bearer ${env:OTLP_TOKEN}".
        const string Token = "otlp-token-2323-secret";
        var topic = _cluster.CreateTopic("otlp-ref", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await using var collector = await OtlpCollector.StartAsync();
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("ref", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  otlp_export_interval_ms: 1000\n  otlp_headers:\n    Authorization: \"Bearer ${{env:OTLP_TOKEN}}\"\n");

        await using var kcp = KcpProcess.Run(config.ConfigFile, new Dictionary<string, string?> { ["OTLP_TOKEN"] = Token });
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 3 }, Patience);
        await collector.WaitForAsync(c => c.Requests.Any(r => r.Path == "/v1/metrics"), Patience, () => $"no metrics export; kcp output:\n{kcp.Tail()}");
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Assert.NotEmpty(collector.Requests);
        Assert.All(collector.Requests, r => Assert.Equal($"Bearer {Token}", r.Headers.GetValueOrDefault("Authorization")));
        Assert.All(kcp.Output, l => Assert.DoesNotContain(Token, l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_CollectorDown_EveryMessageDeliveredAndFailuresLoggedOnceThenCounted_Issue11()
    {
        const int Partitions = 2, PerPartition = 20;
        var topic = _cluster.CreateTopic("otlp-down", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition / 2));
        // The second half is answered slowly: kcp runs through several failed metric exports (one a second) meanwhile.
        await using var receiver = await RecordingReceiver.StartAsync(r => r.Offset >= PerPartition / 2 ? Fault.Delayed(TimeSpan.FromMilliseconds(250)) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("down", topic, group, receiver.Port);
        using var collector = new RefusedPort();
        config.AppendMain($"telemetry:\n  otlp_endpoint: http://127.0.0.1:{collector.Port}\n  otlp_export_interval_ms: 1000\n");
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        var running = System.Diagnostics.Stopwatch.StartNew();
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await kcp.WaitForOutputAsync("OTLP export failed", Patience);
        // Messages produced while the collector keeps failing are delivered as well.
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition / 2));
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, expected);
        var failures = kcp.Output.Where(l => l.Contains("OTLP export failed", StringComparison.Ordinal)).ToList();
        // One full line per kind of failure (traces and metrics fail alike), then a summary per 30 s and one at stop:
        // never a line per export (there were several a second). A slow machine that ran longer gets its extra lines.
        var periods = 1 + (int)(running.Elapsed.TotalSeconds / OtlpExport.FailureLogInterval.TotalSeconds);
        Assert.True(failures.Count(l => l.Contains("OTLP export failed:", StringComparison.Ordinal)) <= 2 * periods, string.Join('\n', failures));
        Assert.True(failures.Count <= 4 * periods, $"{failures.Count} lines in {running.Elapsed.TotalSeconds:F0} s:\n{string.Join('\n', failures)}");
        var counted = failures.Select(l => Regex.Match(l, @"failed (\d+) more time\(s\)")).Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.True(counted >= 2, $"expected the failures after the first to be counted in a summary at stop:\n{string.Join('\n', failures)}");
        Assert.Contains(failures, l => l.Contains("Connection refused (127.0.0.1", StringComparison.Ordinal));
        // One line each: the exception's stack trace stays out of the log.
        Assert.DoesNotContain(kcp.Output, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_CollectorNeverAnswers_DeliveriesGoOnAndStopIsBounded_Issue11()
    {
        var topic = _cluster.CreateTopic("otlp-hang", 1);
        var group = Names.Unique("g");
        var traces = Enumerable.Range(0, 5).Select(_ => (TraceId: NewHex(16), SpanId: NewHex(8))).ToList();
        await ProduceWithTraceparentAsync(topic, traces);
        using var blackhole = BlackholeListener.Start();
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("hang", topic, group, receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: http://127.0.0.1:{blackhole.Port}\n  otlp_export_interval_ms: 1000\n");

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = traces.Count }, Patience);
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        kcp.SendSignal(KcpProcess.SigTerm);

        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));
        Assert.True(stopping.Elapsed < StopBound, $"stop took {stopping.Elapsed.TotalSeconds:F1} s");
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = traces.Count });
        Assert.Contains(kcp.Output, l => l.Contains("final flush at stop did not finish within 5 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_TelemetryChanged_ReportedAsNeedingARestartAndExportGoesOnAsBefore_Issue11()
    {
        const string OldKey = "old-otlp-key-81c2d7a4", NewKey = "new-otlp-key-0b9e3f15";
        var topic = _cluster.CreateTopic("otlp-reload", 1);
        await using var collector = await OtlpCollector.StartAsync();
        await using var other = await OtlpCollector.StartAsync();
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{collector.BaseAddress}\"\n  otlp_export_interval_ms: 1000\n  otlp_headers:\n    x-api-key: \"{OldKey}\"\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 3 }, Patience);
        await collector.WaitForAsync(c => c.Metrics.Any(m => m.Name == "kcp.messages.delivered"), Patience, () => "no kcp.messages.delivered before the reload");

        var text = await File.ReadAllTextAsync(config.ConfigFile);
        await File.WriteAllTextAsync(config.ConfigFile, text.Replace(collector.BaseAddress.ToString(), other.BaseAddress.ToString(), StringComparison.Ordinal).Replace(OldKey, NewKey, StringComparison.Ordinal));
        var line = await kcp.WaitForOutputAsync("Reload: telemetry changed from", Patience);

        Assert.Contains($"to OTLP http/protobuf to {other.BaseAddress}", line, StringComparison.Ordinal);
        Assert.Contains("it applies only after a restart of kcp", line, StringComparison.Ordinal);
        var seen = collector.Requests.Count(r => r.Path == "/v1/metrics");
        await collector.WaitForAsync(c => c.Requests.Count(r => r.Path == "/v1/metrics") >= seen + 2, Patience, () => "metrics export stopped after the reload");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 5 }, Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));

        Assert.Empty(other.Requests);
        Assert.All(collector.Requests, r => Assert.Equal(OldKey, r.Headers.GetValueOrDefault("x-api-key")));
        Assert.DoesNotContain(kcp.StdOut, l => l.Contains("Route r: stopped -> starting: changed by reload", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.Output, l => l.Contains(OldKey, StringComparison.Ordinal) || l.Contains(NewKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_GrpcProtocol_SpansAndMetricsReachAGrpcCollector_Issue11()
    {
        var topic = _cluster.CreateTopic("otlp-grpc", 1);
        var traces = new[] { (TraceId: NewHex(16), SpanId: NewHex(8)) };
        await ProduceWithTraceparentAsync(topic, traces);
        await using var collector = await OtlpCollector.StartAsync(grpc: true);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("grpc", topic, Names.Unique("g"), receiver.Port);
        var endpoint = collector.BaseAddress.ToString().TrimEnd('/');
        // Without the admin endpoint the OTLP export has every metric all the same, kcp.route.state included.
        File.WriteAllText(config.ConfigFile, File.ReadAllText(config.ConfigFile).Replace("  listen: \"127.0.0.1:0\"", "  listen: off", StringComparison.Ordinal));
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"{endpoint}\"\n  otlp_protocol: grpc\n  otlp_export_interval_ms: 1000\n  otlp_headers:\n    x-api-key: grpc-key-4471\n");

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 1 }, Patience);
        await collector.WaitForAsync(c => c.Spans.Any(s => s.TraceId == traces[0].TraceId) && c.Metrics.Any(m => m.Name == "kcp.messages.delivered")
            && c.Metrics.Any(m => m.Name == "kcp.route.state" && m.Points.Any(p => Equals(p.GetValueOrDefault("route"), "grpc") && Equals(p.GetValueOrDefault("state"), "running"))), Patience,
            () => $"{collector.Spans.Count} span(s), metrics {string.Join(", ", collector.Metrics.Select(m => m.Name).Distinct())}; {kcp.Tail()}");
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(StopBound));

        var span = Assert.Single(collector.Spans, s => s.TraceId == traces[0].TraceId);
        Assert.Equal((traces[0].SpanId, "kafka", topic), (span.ParentSpanId, span.Attributes["messaging.system"], span.Attributes["messaging.destination.name"]));
        Assert.All(collector.Requests, r => Assert.Equal(("application/grpc", "grpc-key-4471"), (r.ContentType, r.Headers.GetValueOrDefault("x-api-key"))));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("OTLP export failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_BadTelemetry_ErrorsNameTheKeysAndNeverShowAHeaderValue_Issue11()
    {
        const string Secret = "validate-otlp-secret-93d1";
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("v", "orders", "billing", 8080);
        config.AppendMain($"telemetry:\n  otlp_endpoint: \"http://collector:4318/?a=b\"\n  otlp_export_interval_ms: 50\n  otlp_headers:\n    Authorization: \"Bearer {Secret}\\n\"\n");

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        var output = string.Join('\n', kcp.Output);
        Assert.Contains("key 'telemetry.otlp_headers.Authorization': must be printable ASCII", output, StringComparison.Ordinal);
        Assert.Contains("key 'telemetry.otlp_export_interval_ms' = '50': must be an integer from 1000 to 600000", output, StringComparison.Ordinal);
        Assert.Contains("key 'telemetry.otlp_endpoint' = 'http://collector:4318/?a=b': must not have a query", output, StringComparison.Ordinal);
        Assert.Contains("3 configuration error(s)", output, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, output, StringComparison.Ordinal);
    }

    private async Task ProduceWithTraceparentAsync(string topic, IEnumerable<(string TraceId, string SpanId)> traces, bool sampled = true)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, Acks = Acks.All })
            .SetLogHandler((_, _) => { })
            .Build();
        foreach (var (traceId, spanId) in traces)
        {
            await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<byte[]?, byte[]?>
            {
                Value = Encoding.UTF8.GetBytes(traceId),
                Headers = new Headers { { "traceparent", Encoding.ASCII.GetBytes($"00-{traceId}-{spanId}-{(sampled ? "01" : "00")}") } },
            });
        }
    }

    private static string NewHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));
}
