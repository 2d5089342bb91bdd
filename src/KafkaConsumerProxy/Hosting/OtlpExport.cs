using System.Diagnostics.Tracing;
using System.Globalization;
using System.Reflection;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tls;
using KafkaConsumerProxy.Delivery.Tracing;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Exports kcp's traces (the delivery activities of <see cref="DeliveryTracing"/>) and metrics (<see cref="ProxyMetrics"/>
/// and the .NET runtime's, as the admin endpoint's <c>/metrics</c> has them) over OTLP, as <c>telemetry</c> in kcp.yaml
/// says. Built only when <c>otlp_endpoint</c> is set: without it there is no listener and the delivery path allocates
/// nothing for tracing. Export runs in the SDK's background threads (spans in batches of a bounded queue that drops
/// when full, metrics every <c>otlp_export_interval_ms</c>), so a slow or unreachable collector never slows a delivery;
/// the SDK's failure events are written as kcp warnings, at most one line per <see cref="FailureLogInterval"/>.
/// <see cref="Dispose"/> flushes what is left, bounded by <see cref="FlushTimeout"/>.
/// With <c>otlp_ca_file</c> or a client certificate the exporter's HttpClient connects through a route's
/// <see cref="TlsConnector"/>: the same trust, client certificate, file rotation and failure reasons as <c>scheme: https</c>.
/// </summary>
internal sealed class OtlpExport : IDisposable
{
    /// <summary>The longest a stop waits for the last spans and metrics to reach the collector: 5 s.</summary>
    public static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    /// <summary>At most one failure line per kind of failure in this interval (30 s); the rest are counted.</summary>
    public static readonly TimeSpan FailureLogInterval = RepeatedLog<int, string>.DefaultInterval;

    // The EventSource of OpenTelemetry.Exporter.OpenTelemetryProtocol; it reports failed exports.
    internal const string ExporterEventSourceName = "OpenTelemetry-Exporter-OpenTelemetryProtocol";

    private const int MaxReasonChars = 400;

    /// <summary>The key names the TLS failure reasons of the export name.</summary>
    internal static readonly TlsKeyNames TlsKeys = new("telemetry.otlp_ca_file", "telemetry.otlp_client_cert_file",
        "the collector's certificate must be valid for the host of telemetry.otlp_endpoint");

    // Routes' idea of a pooled connection's life: rotated certificate files are used from the next connection on.
    private static readonly TimeSpan PooledConnectionLifetime = TimeSpan.FromMinutes(5);

    private readonly ILogger _logger;
    private readonly TracerProvider _tracer;
    private readonly MeterProvider _meter;
    private readonly ILoggerFactory _logs;
    private readonly LogForwarder _forwarder;
    private readonly FailureListener _failures;
    private readonly RepeatedLog<int, string> _failureLog;
    private readonly TlsConnector? _tls;
    private readonly (string Internal, string Shown)? _tlsBase;

    private OtlpExport(TelemetrySettings settings, ILogger logger, TimeProvider time, ILoggerFactory? loggers)
    {
        _logger = logger;
        if (settings.OwnTls)
        {
            _tls = new TlsConnector(settings.Tls, fixedServerName: null, TlsKeys);
            _tlsBase = (PlainEndpoint(settings.OtlpEndpoint!).GetLeftPart(UriPartial.Authority), settings.OtlpEndpoint!.GetLeftPart(UriPartial.Authority));
        }

        _failureLog = new RepeatedLog<int, string>(time, FailureLogInterval,
            (_, summary) => Log.OtlpExportFailedAgain(_logger, summary.Count, summary.Since.TotalSeconds, summary.Latest));
        _failures = new FailureListener(Failed);

        var resource = TelemetryResource.Create(settings.ServiceName);
        _tracer = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(DeliveryTracing.SourceName)
            .AddOtlpExporter(o => Configure(o, settings, "v1/traces", _tls))
            .Build();
        _meter = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(ProxyMetrics.MeterName)
            .AddHttpClientSeries(settings.HttpConnectionMetrics)
            .AddRuntimeInstrumentation()
            .AddOtlpExporter((o, reader) =>
            {
                Configure(o, settings, "v1/metrics", _tls);
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = settings.ExportIntervalMs;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            })
            .Build();
        // Log records: kcp's loggers reach this factory through the forwarder added to theirs, so what is exported is
        // filtered by the same levels as the console.
        _logs = LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Trace)
            .AddOpenTelemetry(o =>
            {
                o.SetResourceBuilder(resource);
                o.IncludeFormattedMessage = true;
                o.ParseStateValues = true;
                o.AddOtlpExporter(e => Configure(e, settings, "v1/logs", _tls));
            }));
        _forwarder = new LogForwarder(_logs);
        loggers?.AddProvider(_forwarder);
    }

    /// <summary>The resource's <c>service.instance.id</c>: a new UUID for each start of kcp.</summary>
    public string InstanceId => TelemetryResource.InstanceId;

    /// <summary>Starts the export; null (nothing built, nothing listening) when <c>otlp_endpoint</c> is not set.</summary>
    /// <param name="loggers">Whose log lines are exported too (as OTLP log records); null: none.</param>
    public static OtlpExport? Start(TelemetrySettings settings, ILogger logger, TimeProvider time, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Enabled)
            return null;
        var export = new OtlpExport(settings, logger, time, loggers);
        Log.OtlpExportOn(logger, SecretRedactor.Hide(settings.OtlpEndpoint!.AbsoluteUri), settings.ProtocolName, settings.ExportIntervalMs, settings.ServiceName, export.InstanceId);
        if (settings.OwnTls)
        {
            Log.OtlpTls(logger, settings.CaFile is { } ca ? $"the CAs of {ca}" : "the system trust store",
                settings.ClientCertFile is { } cert ? $"{cert} (key {settings.ClientKeyFile})" : "none");
        }

        return export;
    }

    /// <summary>The URL an exporter sends a signal to: for http/protobuf the base URL plus <c>v1/traces</c> or <c>v1/metrics</c>.</summary>
    internal static Uri SignalEndpoint(TelemetrySettings settings, string signalPath)
    {
        var endpoint = settings.OtlpEndpoint!;
        return settings.Protocol == OtlpProtocol.Grpc ? endpoint : new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath);
    }

    /// <summary>Flushes the last spans and metrics (both at once, bounded by <see cref="FlushTimeout"/>) and stops exporting.</summary>
    public void Dispose()
    {
        var timeout = (int)FlushTimeout.TotalMilliseconds;
        _forwarder.Close();
        var tracer = Task.Run(() => _tracer.Shutdown(timeout));
        var meter = Task.Run(() => _meter.Shutdown(timeout));
        // Disposing the factory shuts its provider down, which exports the log records still queued.
        var logs = Task.Run(() =>
        {
            _logs.Dispose();
            return true;
        });
        var finished = Task.WaitAll([tracer, meter, logs], FlushTimeout + TimeSpan.FromSeconds(1)) && tracer.Result && meter.Result;
        if (finished)
        {
            _tracer.Dispose();
            _meter.Dispose();
            _tls?.Dispose();
        }
        else
        {
            Log.OtlpFlushIncomplete(_logger, FlushTimeout.TotalSeconds);
            // Never wait longer at stop; the providers let go of their listeners once their threads give up.
            _ = Task.Run(() =>
            {
                _tracer.Dispose();
                _meter.Dispose();
                _tls?.Dispose();
            });
        }

        _failures.Dispose();
        _failureLog.Dispose();
    }

    /// <summary>
    /// The URL the exporter is given when <see cref="TlsConnector"/> makes its connections: http:// with the same host and
    /// port, because the connection the handler gets is TLS already (as a route's requests are).
    /// </summary>
    internal static Uri PlainEndpoint(Uri endpoint) => new UriBuilder(endpoint) { Scheme = Uri.UriSchemeHttp, Port = endpoint.Port }.Uri;

    private static void Configure(OtlpExporterOptions options, TelemetrySettings settings, string signalPath, TlsConnector? tls)
    {
        options.Protocol = settings.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = SignalEndpoint(settings, signalPath);
        if (tls is not null)
        {
            // The loader allows the TLS keys with http/protobuf only: the connector offers HTTP/1.1 (ALPN), and over
            // HTTP/2 (grpc) the http:// URL would be sent as ':scheme: http' on a TLS connection.
            options.Endpoint = PlainEndpoint(options.Endpoint);
        }

        // Always kcp's own client: the exporter's default one would also read OTEL_EXPORTER_OTLP_CERTIFICATE,
        // _CLIENT_CERTIFICATE and _CLIENT_KEY (and fail the start on a file it cannot read), and kcp.yaml is the one
        // place of these settings.
        options.HttpClientFactory = () => new HttpClient(Handler(tls), disposeHandler: true)
        {
            Timeout = TimeSpan.FromMilliseconds(options.TimeoutMilliseconds),
        };
        // kcp.yaml is the one place of the settings: OTEL_EXPORTER_OTLP_HEADERS does not add to them. The option is that
        // variable's format, "name=value,...", percent-decoded before it is split at ',': so '%' is sent encoded, and
        // a ',' cannot be sent at all (the loader refuses it).
        options.Headers = string.Join(",", settings.Headers.Select(h => $"{h.Key}={EncodeHeaderValue(h.Value)}"));
    }

    private static SocketsHttpHandler Handler(TlsConnector? tls)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = PooledConnectionLifetime,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        if (tls is not null)
        {
            handler.ConnectCallback = tls.ConnectAsync;
            // The connector speaks TLS to the collector itself; a proxy would get that handshake instead.
            handler.UseProxy = false;
        }

        return handler;
    }

    internal static string EncodeHeaderValue(string value) => value.Replace("%", "%25", StringComparison.Ordinal);

    private void Failed(EventWrittenEventArgs e)
    {
        var reason = Reason(e, _tlsBase);
        if (_failureLog.ShouldLog(e.EventId, reason))
            Log.OtlpExportFailed(_logger, reason, FailureLogInterval.TotalSeconds);
    }

    // The event's message with its payload, each value cut to its first line: the exception texts carry stack traces.
    // With kcp's TLS connector the exporter names the collector by its internal http:// URL: shown as configured (and so
    // masked when the endpoint is a secret).
    internal static string Reason(EventWrittenEventArgs e, (string Internal, string Shown)? tlsBase = null)
    {
        var values = (e.Payload ?? []).Select(p => FirstLine(Convert.ToString(p, CultureInfo.InvariantCulture))).ToArray<object?>();
        string text;
        try
        {
            text = e.Message is { Length: > 0 } message ? string.Format(CultureInfo.InvariantCulture, message, values) : string.Join("; ", values);
        }
        catch (FormatException)
        {
            text = string.Join("; ", values.Prepend(e.EventName));
        }

        if (tlsBase is var (internalBase, shownBase))
            text = text.Replace(internalBase, shownBase, StringComparison.OrdinalIgnoreCase);
        return SecretRedactor.Hide(LogText.Escape(SecretRedactor.Hide(text), MaxReasonChars));
    }

    // The first line, and the reason of kcp's TLS connector when it is an inner exception further down (a client
    // certificate refused after a TLS 1.3 handshake fails the request, not the connection: "An error occurred while
    // sending the request" alone says nothing).
    private static string FirstLine(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var first = Line(text, 0);
        var tls = text.IndexOf(TlsInnerException, StringComparison.Ordinal);
        if (tls < 0)
            return first;
        var reason = Line(text, tls + TlsInnerException.Length);
        return first.Contains(reason, StringComparison.Ordinal) ? first : $"{first} (TLS: {reason})";
    }

    private static readonly string TlsInnerException = $" ---> {typeof(TlsFailureException).FullName}: ";

    private static string Line(string text, int start)
    {
        var end = text.AsSpan(start).IndexOfAny('\r', '\n');
        return end < 0 ? text[start..] : text.Substring(start, end);
    }

    /// <summary>
    /// Passes kcp's log lines on to the OTLP log exporter's factory until <see cref="Close"/>: added to kcp's logger
    /// factory, whose filters (the level) apply to it as to the console.
    /// </summary>
    private sealed class LogForwarder(ILoggerFactory target) : ILoggerProvider
    {
        private volatile bool _closed;

        public void Close() => _closed = true;

        public ILogger CreateLogger(string categoryName) => new Forwarding(this, target.CreateLogger(categoryName));

        public void Dispose() => Close();

        private sealed class Forwarding(LogForwarder owner, ILogger inner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => owner._closed ? null : inner.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => !owner._closed && inner.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!owner._closed)
                    inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    /// <summary>Hears the exporter's warnings and errors; process-wide, as every EventListener is.</summary>
    private sealed class FailureListener : EventListener
    {
        // Set after the base constructor, which may already report existing sources to OnEventSourceCreated.
        private readonly Action<EventWrittenEventArgs>? _sink;

        public FailureListener(Action<EventWrittenEventArgs> sink) => _sink = sink;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == ExporterEventSourceName)
                EnableEvents(eventSource, EventLevel.Warning);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.Level is EventLevel.Critical or EventLevel.Error or EventLevel.Warning)
                _sink?.Invoke(eventData);
        }
    }
}
