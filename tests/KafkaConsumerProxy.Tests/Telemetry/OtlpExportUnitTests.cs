using System.Diagnostics.Tracing;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>What <see cref="OtlpExport"/> builds from the settings, without a collector.</summary>
public sealed class OtlpExportUnitTests
{
    [Fact]
    public void NoEndpoint_NothingBuilt_Issue11()
    {
        Assert.Null(OtlpExport.Start(TelemetrySettings.Off, NullLogger.Instance, TimeProvider.System));
    }

    [Theory]
    [InlineData("http://collector:4318", "v1/traces", "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/", "v1/metrics", "http://collector:4318/v1/metrics")]
    [InlineData("https://otel.example.com/otlp/", "v1/traces", "https://otel.example.com/otlp/v1/traces")]
    public void HttpProtobuf_SignalPathAppendedToTheBaseUrl_Issue11(string endpoint, string signal, string expected)
    {
        var settings = new TelemetrySettings { OtlpEndpoint = new Uri(endpoint) };

        Assert.Equal(new Uri(expected), OtlpExport.SignalEndpoint(settings, signal));
    }

    [Fact]
    public void Grpc_EndpointAsGiven_Issue11()
    {
        var settings = new TelemetrySettings { OtlpEndpoint = new Uri("http://collector:4317"), Protocol = OtlpProtocol.Grpc };

        Assert.Equal(new Uri("http://collector:4317"), OtlpExport.SignalEndpoint(settings, "v1/traces"));
    }

    [Theory]
    [InlineData("plain-key", "plain-key")]
    [InlineData("a%41b%", "a%2541b%25")]
    public void HeaderValue_PercentEncodedForTheExporterWhichDecodesIt_Issue11(string value, string expected)
    {
        Assert.Equal(expected, OtlpExport.EncodeHeaderValue(value));
        Assert.Equal(value, Uri.UnescapeDataString(expected));
    }

    [Fact]
    public void FailureReason_OneLineWithoutStackTraceAndSecretsMasked_Issue11()
    {
        const string Secret = "reason-secret-6a2f0c";
        SecretRedactor.Register(Secret);
        using var source = new ReasonSource();
        using var listener = new Capture(source);

        source.Failed($"http://collector:4318/v1/traces?k={Secret}", "System.Net.Http.HttpRequestException: Connection refused (collector:4318)\n ---> System.Net.Sockets.SocketException (111): Connection refused\n   at System.Net.Http.HttpConnectionPool.ConnectAsync()");

        var reason = OtlpExport.Reason(Assert.Single(listener.Events));
        Assert.Equal("Export to http://collector:4318/v1/traces?k=*** failed: System.Net.Http.HttpRequestException: Connection refused (collector:4318)", reason);
    }

    [Fact]
    public void FailureReason_TlsConnectorReasonOfAnInnerExceptionShown_OtlpTls()
    {
        using var source = new ReasonSource();
        using var listener = new Capture(source);

        source.Failed("http://127.0.0.1:4318/v1/traces", "System.Net.Http.HttpRequestException: An error occurred while sending the request.\n"
            + " ---> KafkaConsumerProxy.Tls.TlsFailureException: client certificate required: the server asked for one (Received an unexpected EOF)\n"
            + " ---> System.IO.IOException: Received an unexpected EOF\n   at System.Net.Security.SslStream.ReadAsync()");

        var reason = OtlpExport.Reason(Assert.Single(listener.Events), ("http://127.0.0.1:4318", "https://127.0.0.1:4318"));
        Assert.Equal("Export to https://127.0.0.1:4318/v1/traces failed: System.Net.Http.HttpRequestException: An error occurred while sending the request."
            + " (TLS: client certificate required: the server asked for one (Received an unexpected EOF))", reason);
    }

    [Theory]
    [InlineData("https://otel.example.com:4318/", "http://otel.example.com:4318/")]
    [InlineData("https://otel.example.com/otlp/", "http://otel.example.com:443/otlp/")]
    public void PlainEndpoint_SameHostAndPortOverHttp_OtlpTls(string endpoint, string expected)
    {
        Assert.Equal(new Uri(expected), OtlpExport.PlainEndpoint(new Uri(endpoint)));
    }

    [EventSource(Name = "KafkaConsumerProxy-Tests-OtlpReason")]
    private sealed class ReasonSource : EventSource
    {
        [Event(1, Message = "Export to {0} failed: {1}", Level = EventLevel.Error)]
        public void Failed(string endpoint, string exception) => WriteEvent(1, endpoint, exception);
    }

    private sealed class Capture : EventListener
    {
        public Capture(EventSource source) => EnableEvents(source, EventLevel.Warning);

        public List<EventWrittenEventArgs> Events { get; } = [];

        protected override void OnEventWritten(EventWrittenEventArgs eventData) => Events.Add(eventData);
    }
}
