using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>Reads the <c>telemetry</c> section of the main config file.</summary>
internal static class TelemetrySectionReader
{
    // Headers the exporter's HTTP client or the OTLP protocol own; a configured header must not replace them.
    private static readonly string[] ReservedOtlpHeaders =
        ["Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect", "User-Agent"];

    private const int MaxServiceNameLength = 255;

    /// <summary>
    /// The <c>telemetry</c> section: <c>otlp_endpoint</c> (an http:// or https:// URL; without it nothing is exported),
    /// <c>otlp_protocol</c>, <c>otlp_headers</c> (values are secrets), <c>service_name</c> and
    /// <c>otlp_export_interval_ms</c>, and with an https:// endpoint <c>otlp_ca_file</c>, <c>otlp_client_cert_file</c> and
    /// <c>otlp_client_key_file</c> (checked and read as a route's <c>tls_*</c> files, resolved against kcp.yaml's directory);
    /// the others apply only with <c>otlp_endpoint</c>, except <c>http_connection_metrics</c>, which applies to <c>/metrics</c> too. Null when the section has an error.
    /// </summary>
    public static TelemetrySettings? Read(MapReader main, List<ConfigError> errors)
    {
        var before = errors.Count;
        var node = main.Mapping(MainFileKeys.Telemetry);
        if (errors.Count != before)
            return null;
        if (node is null)
            return TelemetrySettings.Off;

        var reader = new MapReader(main.File, node, errors, "telemetry.");
        var endpointText = reader.String(Key("otlp_endpoint"));
        var protocol = reader.Choice(Key("otlp_protocol"));
        var headers = ReadOtlpHeaders(reader, errors);
        var serviceName = reader.String(Key("service_name"));
        var interval = reader.Int(Key("otlp_export_interval_ms"));
        var caFile = reader.String(Key("otlp_ca_file"));
        var certFile = reader.String(Key("otlp_client_cert_file"));
        var keyFile = reader.String(Key("otlp_client_key_file"));
        var connectionSeries = reader.Bool(Key(MainFileKeys.HttpConnectionMetricsKey)) ?? false;
        reader.ReportUnknownKeys();
        if (endpointText is null)
        {
            if (!node.Entries.Any(e => e.Key == "otlp_endpoint"))
            {
                foreach (var key in node.Entries.Select(e => e.Key).Where(k => k != MainFileKeys.HttpConnectionMetricsKey))
                    reader.Error(key, null, "applies only with telemetry.otlp_endpoint, which is not set (nothing is exported without it)");
            }

            return errors.Count != before ? null : connectionSeries ? new TelemetrySettings { HttpConnectionMetrics = true } : TelemetrySettings.Off;
        }

        // Checked even when other keys are wrong: every error is reported at once.
        var grpc = protocol == "grpc";
        var endpointProblem = OtlpEndpointProblem(endpointText, grpc);
        if (endpointProblem is not null)
            reader.Error("otlp_endpoint", endpointText, endpointProblem);
        var baseDir = Path.GetDirectoryName(main.File)!;
        string? Resolve(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(baseDir, path));
        var tlsKeys = new[] { ("otlp_ca_file", caFile), ("otlp_client_cert_file", certFile), ("otlp_client_key_file", keyFile) }.Where(k => k.Item2 is not null).ToList();
        if (tlsKeys.Count > 0 && endpointProblem is null && new Uri(endpointText, UriKind.Absolute).Scheme != Uri.UriSchemeHttps)
        {
            foreach (var (key, value) in tlsKeys)
                reader.Error(key, value, "applies only with an https:// telemetry.otlp_endpoint (the collector is reached without TLS)");
        }
        else if (tlsKeys.Count > 0 && grpc)
        {
            // The exporter's gRPC client does take kcp's HttpClient, but the route TLS connector offers HTTP/1.1 only (ALPN)
            // and hands the handler a TLS connection under an http:// URL: a gRPC collector refuses the handshake, and
            // with h2 offered it would still get ':scheme: http' on a TLS connection, which collectors checking it refuse.
            foreach (var (key, value) in tlsKeys)
                reader.Error(key, value, "applies only with otlp_protocol: http/protobuf; with grpc the collector's certificate must be trusted by the system trust store, and no client certificate can be sent");
        }
        else if (tlsKeys.Count > 0)
        {
            EndpointSecurityRules.CheckTlsFiles(reader.Error, new("otlp_ca_file", caFile, Resolve(caFile)), new("otlp_client_cert_file", certFile, Resolve(certFile)), new("otlp_client_key_file", keyFile, Resolve(keyFile)));
        }

        if (serviceName is not null && (serviceName.Length > MaxServiceNameLength || serviceName.Any(char.IsControl) || serviceName.Trim() != serviceName))
            reader.Error("service_name", serviceName, string.Create(CultureInfo.InvariantCulture, $"must be a name of at most {MaxServiceNameLength} characters without control characters or surrounding spaces"));
        if (errors.Count != before)
            return null;

        return new TelemetrySettings
        {
            OtlpEndpoint = new Uri(endpointText, UriKind.Absolute),
            Protocol = grpc ? OtlpProtocol.Grpc : OtlpProtocol.HttpProtobuf,
            Headers = headers,
            ServiceName = serviceName ?? TelemetrySettings.DefaultServiceName,
            ExportIntervalMs = interval ?? TelemetrySettings.DefaultExportIntervalMs,
            CaFile = Resolve(caFile),
            ClientCertFile = Resolve(certFile),
            ClientKeyFile = Resolve(keyFile),
            HttpConnectionMetrics = connectionSeries,
        };
    }

    private static RouteKey Key(string name) => MainFileKeys.Of(MainFileKeys.TelemetryKeys, name);

    /// <summary>Why <paramref name="text"/> cannot be the collector's URL, or null.</summary>
    internal static string? OtlpEndpointProblem(string text, bool grpc)
    {
        const string Expected = "must be an absolute http:// or https:// URL of an OTLP collector, e.g. http://otel-collector:4318 (http/protobuf) or http://otel-collector:4317 (grpc)";
        if (text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            return Expected;
        if (uri.UserInfo.Length > 0)
            return "must not carry user information ('user:password@'); put credentials in telemetry.otlp_headers (e.g. Authorization)";
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
            return "must not have a query ('?') or fragment ('#')";
        if (grpc && uri.AbsolutePath != "/")
            return $"has the path '{uri.AbsolutePath}'; with otlp_protocol: grpc the endpoint is the collector's address only (e.g. http://otel-collector:4317): the gRPC service paths are fixed";
        return null;
    }

    /// <summary><c>otlp_headers</c>: names are HTTP tokens, values printable ASCII without ','; every value is registered as a secret.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> ReadOtlpHeaders(MapReader reader, List<ConfigError> errors)
    {
        var node = reader.Mapping(Key("otlp_headers"));
        if (node is null)
            return [];
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in node.Entries)
        {
            var key = $"telemetry.otlp_headers.{name}";
            var text = value is ScalarNode { IsNull: false } scalar ? scalar.Text : null;
            if (!string.IsNullOrEmpty(text))
            {
                // Whatever else is wrong with it, the value is never shown, here or anywhere kcp writes text. (Not an
                // empty one: the redactor would then mask every empty value of every error.)
                SecretRedactor.Register(text);
            }

            // '%' is a token character, but the exporter percent-decodes what it is given.
            if (name.Length == 0 || !name.All(c => EndpointSecurityRules.IsTokenChar(c) && c != '%'))
                errors.Add(new ConfigError(reader.File, key, null, "must be a header name: letters, digits and !#$&'*+-.^_`|~"));
            else if (ReservedOtlpHeaders.Contains(name, StringComparer.OrdinalIgnoreCase) || name.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase))
                errors.Add(new ConfigError(reader.File, key, null, "is set by the exporter's HTTP client or the OTLP protocol and cannot be replaced (Host, Content-*, User-Agent, grpc-*, the connection headers)"));
            else if (text is null || text.Length == 0)
                errors.Add(new ConfigError(reader.File, key, null, $"must be a non-empty string, got {value.Kind}"));
            else if (text.Any(c => c is < ' ' or > '\x7e') || text.Trim() != text || text.Contains(',', StringComparison.Ordinal))
                errors.Add(new ConfigError(reader.File, key, null, "must be printable ASCII without ',' (the OTLP exporter separates headers with it), line breaks or surrounding spaces (the value is not shown: header values are secrets)"));
            else if (headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)))
                errors.Add(new ConfigError(reader.File, key, null, "is given twice (header names are case-insensitive)"));
            else
                headers.Add(new(name, text));
        }

        return headers;
    }
}
