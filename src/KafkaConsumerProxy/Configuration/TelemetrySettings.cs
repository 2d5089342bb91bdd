using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>The wire protocol of <c>telemetry.otlp_protocol</c>.</summary>
internal enum OtlpProtocol
{
    /// <summary><c>http/protobuf</c> (the default): POST to <c>{otlp_endpoint}/v1/traces</c> and <c>/v1/metrics</c>.</summary>
    HttpProtobuf,

    /// <summary><c>grpc</c>: the OTLP gRPC services at <c>otlp_endpoint</c> (usually port 4317).</summary>
    Grpc,
}

/// <summary>
/// The <c>telemetry</c> section of kcp.yaml: where kcp exports its traces and metrics over OTLP. Without
/// <c>otlp_endpoint</c> nothing is exported and nothing is built. The header values (typically an API key) are kept
/// out of <see cref="ToString"/>; only their names are shown.
/// </summary>
internal sealed class TelemetrySettings
{
    /// <summary>The default <c>service_name</c>: <c>kcp</c>.</summary>
    public const string DefaultServiceName = "kcp";

    /// <summary>The default <c>otlp_export_interval_ms</c>: metrics are exported every 15 s.</summary>
    public const int DefaultExportIntervalMs = 15_000;

    /// <summary>The smallest <c>otlp_export_interval_ms</c>: 1 s.</summary>
    public const int MinExportIntervalMs = 1_000;

    /// <summary>The largest <c>otlp_export_interval_ms</c>: 10 minutes.</summary>
    public const int MaxExportIntervalMs = 600_000;

    /// <summary>The section when it is absent: no export.</summary>
    public static TelemetrySettings Off { get; } = new();

    /// <summary>The collector's base URL (http or https); null when nothing is exported.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary><c>otlp_protocol</c>; default <see cref="OtlpProtocol.HttpProtobuf"/>.</summary>
    public OtlpProtocol Protocol { get; init; } = OtlpProtocol.HttpProtobuf;

    /// <summary><c>otlp_headers</c>: sent with every export request; the values are secrets.</summary>
    internal IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary><c>service_name</c>, the resource's <c>service.name</c>; default <see cref="DefaultServiceName"/>.</summary>
    public string ServiceName { get; init; } = DefaultServiceName;

    /// <summary><c>otlp_export_interval_ms</c>: how often metrics are exported; default <see cref="DefaultExportIntervalMs"/>.</summary>
    public int ExportIntervalMs { get; init; } = DefaultExportIntervalMs;

    /// <summary>
    /// <c>otlp_ca_file</c>: a PEM bundle of the CAs the collector's certificate must chain to (they alone, not the system
    /// trust store); null = the system trust store. Only with an https:// endpoint.
    /// </summary>
    public string? CaFile { get; init; }

    /// <summary><c>otlp_client_cert_file</c>: PEM client certificate (and its chain) for mutual TLS with the collector; null = none.</summary>
    public string? ClientCertFile { get; init; }

    /// <summary><c>otlp_client_key_file</c>: PEM (PKCS#8, PKCS#1 or SEC1) unencrypted private key of <see cref="ClientCertFile"/>.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>True when <see cref="CaFile"/> or a client certificate is set: the collector is reached through kcp's own TLS connector.</summary>
    public bool OwnTls => CaFile is not null || ClientCertFile is not null;

    /// <summary>The TLS files as a route's <see cref="TlsSettings"/> has them (server name: the endpoint's host).</summary>
    internal TlsSettings Tls => new() { Scheme = EndpointScheme.Https, CaFile = CaFile, ClientCertFile = ClientCertFile, ClientKeyFile = ClientKeyFile };

    /// <summary>
    /// <c>http_connection_metrics</c>: the runtime's per-request connection pool series are exported too (on <c>/metrics</c>
    /// and over OTLP; with or without <c>otlp_endpoint</c>). Default false.
    /// </summary>
    public bool HttpConnectionMetrics { get; init; }

    /// <summary>True when <c>otlp_endpoint</c> is set.</summary>
    public bool Enabled => OtlpEndpoint is not null;

    /// <summary>The names of <see cref="Headers"/>, for messages.</summary>
    public IEnumerable<string> HeaderNames => Headers.Select(h => h.Key);

    /// <summary>The text of <c>otlp_protocol</c> as written in kcp.yaml.</summary>
    public string ProtocolName => Protocol == OtlpProtocol.Grpc ? "grpc" : "http/protobuf";

    /// <summary>The same endpoint, protocol, headers (values too), service name, interval, TLS files and series.</summary>
    public bool SameAs(TelemetrySettings other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Equals(OtlpEndpoint, other.OtlpEndpoint) && Protocol == other.Protocol && ServiceName == other.ServiceName
            && ExportIntervalMs == other.ExportIntervalMs && Headers.SequenceEqual(other.Headers)
            && CaFile == other.CaFile && ClientCertFile == other.ClientCertFile && ClientKeyFile == other.ClientKeyFile
            && HttpConnectionMetrics == other.HttpConnectionMetrics;
    }

    /// <summary>This section as <see cref="ToString"/> has it, and a note when only header values differ from <paramref name="old"/> (never shown).</summary>
    public string DescribeChangeFrom(TelemetrySettings old)
    {
        ArgumentNullException.ThrowIfNull(old);
        var text = ToString();
        return text == old.ToString() && !SameAs(old) ? text + " (otlp_headers values changed)" : text;
    }

    /// <summary><c>telemetry off</c>, or the endpoint (secrets masked), protocol, service name, interval, header names and TLS files; and <c>http_connection_metrics</c> when set.</summary>
    public override string ToString() => (OtlpEndpoint is null
        ? "telemetry off"
        : string.Create(CultureInfo.InvariantCulture, $"OTLP {ProtocolName} to {SecretRedactor.Hide(OtlpEndpoint.ToString())} as service '{ServiceName}', metrics every {ExportIntervalMs} ms")
            + (Headers.Count == 0 ? "" : $", headers {string.Join(", ", HeaderNames)}")
            + (CaFile is null ? "" : $", CA file {CaFile}")
            + (ClientCertFile is null ? "" : $", client certificate {ClientCertFile} (key {ClientKeyFile})"))
            + (HttpConnectionMetrics ? ", with the HTTP client's connection pool series" : "");
}
