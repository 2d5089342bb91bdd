namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Every key of the main file (<c>kcp.yaml</c>), declared once: its kind, range, choices and default, which the section
/// readers (<see cref="ConfigLoader"/>, <see cref="AdminSectionReader"/>, <see cref="TelemetrySectionReader"/>,
/// <see cref="LoggingSectionReader"/>, <see cref="FleetSectionReader"/>) read the file with through <see cref="MapReader"/>,
/// and <see cref="ConfigSchema"/> makes the JSON Schema of <c>kcp schema main</c> from. The values themselves are
/// declared with the settings they set (<see cref="KcpConfig"/>, <see cref="AdminSettings"/>, ...).
/// </summary>
internal static class MainFileKeys
{
    public static readonly RouteKey Clusters = RouteKey.Mapping("clusters", "a mapping of cluster names to {bootstrap_servers, consumer_conf, schema_registry}")
        with { Required = true, Description = "The Kafka clusters: cluster name to its settings; routes pick one with cluster (default: default)." };

    public static readonly RouteKey RoutesDir = RouteKey.String("routes_dir", "routes")
        with { Description = "Where the route files are, relative to kcp.yaml; each *.yaml, *.yml or *.json file in it is one route." };

    public static readonly RouteKey StateDir = RouteKey.String("state_dir", "state")
        with { Description = "kcp's local records (skip records, local offset records, operator state), relative to kcp.yaml." };

    public static readonly RouteKey Admin = RouteKey.Mapping("admin", "a mapping with listen and token_file")
        with { Description = "The admin endpoint: metrics, health, status and actions API, dashboard." };

    public static readonly RouteKey Limits = RouteKey.Mapping("limits", "a mapping of budget names to {max_requests_per_second, max_concurrency}")
        with { Description = "Shared budgets: budget name to its limits; every route naming one with limit shares it in this process." };

    public static readonly RouteKey Telemetry = RouteKey.Mapping("telemetry", "a mapping with otlp_endpoint and optional otlp_protocol, otlp_headers, service_name, otlp_export_interval_ms, otlp_ca_file, otlp_client_cert_file, otlp_client_key_file, http_connection_metrics")
        with { Description = "OTLP export of traces, metrics and logs; without otlp_endpoint nothing is exported." };

    public static readonly RouteKey Logging = RouteKey.Mapping("logging", "a mapping with format (text or json) and level (trace, debug, information, warning, error or critical)")
        with { Description = "How kcp writes its log lines; --log-format and --log-level win over it." };

    public static readonly RouteKey Fleet = RouteKey.Mapping("fleet", "a mapping with control_topic and heartbeat_ms (fleet: {} for the defaults)")
        with { Description = "The control topic shared by every kcp running the same routes; fleet: {} turns it on with the defaults." };

    public static readonly RouteKey ShutdownTimeoutMs = RouteKey.Integer("shutdown_timeout_ms", KcpConfig.MinShutdownTimeoutMs, KcpConfig.MaxShutdownTimeoutMs, KcpConfig.DefaultShutdownTimeoutMs)
        with { Description = "At a stop, how long deliveries in flight may take (ms); after it they are cancelled and stay uncommitted." };

    public static readonly RouteKey SocketCompletions = new RouteKey("socket_completions", RouteKeyKind.Choice)
    {
        Choices = KcpConfig.SocketCompletionChoices,
        Default = KcpConfig.InlineSocketCompletions,
        Description = "inline: an answer is handled on the thread that read it from the socket (less CPU per message); thread_pool: handed to a thread-pool worker first. Applied at start.",
    };

    /// <summary>The keys of one cluster (<c>clusters.&lt;name&gt;</c>).</summary>
    public static readonly IReadOnlyList<RouteKey> ClusterKeys =
    [
        RouteKey.RequiredString("bootstrap_servers") with { Description = "librdkafka bootstrap.servers: host:port entries separated by ',' or spaces." },
        RouteKey.Mapping("consumer_conf", RouteDefinition.ConfShape) with { Description = "librdkafka consumer properties for every route on this cluster." },
        RouteKey.Mapping("schema_registry", "a mapping with url and optional basic_auth or bearer, tls_ca_file, tls_server_name, tls_client_cert_file, tls_client_key_file, tls_insecure_skip_verify")
            with { Description = "The Schema Registry of this cluster, for routes that decode Avro, Protobuf or JSON Schema records (value_format, key_format)." },
    ];

    /// <summary>The keys of a cluster's <c>schema_registry</c>.</summary>
    public static readonly IReadOnlyList<RouteKey> SchemaRegistryKeys =
    [
        RouteKey.RequiredString("url") with { Description = "The registry's http:// or https:// URL, e.g. http://schema-registry:8081, or several separated by ','." },
        RouteKey.String("basic_auth") with { Description = "user:password for basic authentication (not with bearer); a secret, usually ${env:NAME}." },
        RouteKey.String("bearer") with { Description = "A bearer token (not with basic_auth); a secret, usually ${env:NAME}." },
        RouteKey.String("tls_ca_file") with { Description = "PEM bundle of the CAs an https:// registry's certificate must chain to, relative to kcp.yaml; default the system trust store." },
        RouteKey.String("tls_server_name") with { Description = "The name an https:// registry's certificate must be valid for, also sent as SNI; default the host of the url." },
        RouteKey.String("tls_client_cert_file") with { Description = "PEM client certificate (its chain after it) for mutual TLS with an https:// registry; needs tls_client_key_file." },
        RouteKey.String("tls_client_key_file") with { Description = "PEM unencrypted private key of tls_client_cert_file." },
        RouteKey.Boolean("tls_insecure_skip_verify", false) with { Description = "true: an https:// registry's certificate is not checked at all (a warning at every start)." },
    ];

    /// <summary>The keys of one shared budget (<c>limits.&lt;name&gt;</c>); at least one of them must be set.</summary>
    public static readonly IReadOnlyList<RouteKey> LimitKeys =
    [
        RouteKey.Integer("max_requests_per_second", 1, RouteDefaults.MaxRequestsPerSecondLimit, null) with { Description = "Requests (retries included) started per second by all routes naming the budget; default no limit." },
        RouteKey.Integer("max_concurrency", 1, 100_000, null) with { Description = "Requests in flight at once over all routes naming the budget; default no limit." },
    ];

    /// <summary>The keys of <c>admin</c>.</summary>
    public static readonly IReadOnlyList<RouteKey> AdminKeys =
    [
        RouteKey.String("listen", AdminSettings.DefaultListen) with { Description = "host:port with an IP address (loopback unless token_file is set; port 0: any free port), or off." },
        RouteKey.String("token_file") with { Description = "A file holding the bearer token (at least 16 characters) requests must carry; relative to kcp.yaml." },
        new RouteKey("allowed_hosts", RouteKeyKind.StringList) { Description = "Further host names the endpoint may be called by (Host, Origin), without scheme, port or path." },
    ];

    /// <summary>The keys of <c>telemetry</c>; all but <see cref="HttpConnectionMetricsKey"/> apply only with <c>otlp_endpoint</c>.</summary>
    public static readonly IReadOnlyList<RouteKey> TelemetryKeys =
    [
        RouteKey.String("otlp_endpoint") with { Description = "The OTLP collector's http:// or https:// URL, e.g. http://otel-collector:4318; without it nothing is exported." },
        new RouteKey("otlp_protocol", RouteKeyKind.Choice) { Choices = ["http/protobuf", "grpc"], Default = "http/protobuf", Description = "The OTLP protocol: http/protobuf (usually port 4318) or grpc (usually 4317)." },
        RouteKey.Mapping("otlp_headers", "a mapping of header names to values, e.g. {Authorization: \"Bearer ${env:OTLP_TOKEN}\"}") with { Description = "Headers sent with every export request; values are secrets." },
        RouteKey.String("service_name", TelemetrySettings.DefaultServiceName) with { Description = "The resource's service.name." },
        RouteKey.Integer("otlp_export_interval_ms", TelemetrySettings.MinExportIntervalMs, TelemetrySettings.MaxExportIntervalMs, TelemetrySettings.DefaultExportIntervalMs) with { Description = "How often metrics are exported, in milliseconds." },
        RouteKey.String("otlp_ca_file") with { Description = "PEM bundle of the CAs the collector's certificate must chain to (https:// and http/protobuf only); default the system trust store." },
        RouteKey.String("otlp_client_cert_file") with { Description = "PEM client certificate for mutual TLS with the collector; needs otlp_client_key_file." },
        RouteKey.String("otlp_client_key_file") with { Description = "PEM unencrypted private key of otlp_client_cert_file." },
        RouteKey.Boolean(HttpConnectionMetricsKey, false) with { Description = "true: also export the runtime's http.client.open_connections and http.client.active_requests, on /metrics and over OTLP (with or without otlp_endpoint); they are recorded on every request and cost some 10% of kcp's CPU per message." },
    ];

    /// <summary>The one key of <c>telemetry</c> that applies without <c>otlp_endpoint</c> (to <c>/metrics</c> too).</summary>
    public const string HttpConnectionMetricsKey = "http_connection_metrics";

    /// <summary>The keys of <c>logging</c>.</summary>
    public static readonly IReadOnlyList<RouteKey> LoggingKeys =
    [
        new RouteKey("format", RouteKeyKind.Choice) { Choices = LoggingSettings.Formats, Default = LoggingSettings.Default.Format, Description = "text: one line per event; json: one JSON object per line." },
        new RouteKey("level", RouteKeyKind.Choice) { Choices = LoggingSettings.Levels, Default = LoggingSettings.Default.Level, Description = "The least severe level written." },
    ];

    /// <summary>The keys of <c>fleet</c>.</summary>
    public static readonly IReadOnlyList<RouteKey> FleetKeys =
    [
        RouteKey.String("control_topic", FleetSettings.DefaultControlTopic) with { Description = "The compacted control topic, on each cluster that routes use." },
        RouteKey.Integer("heartbeat_ms", FleetSettings.MinHeartbeatMs, FleetSettings.MaxHeartbeatMs, FleetSettings.DefaultHeartbeatMs) with { Description = "How often each instance publishes its status, in milliseconds." },
    ];

    /// <summary>The top-level keys, in the order the loader reads them.</summary>
    public static IReadOnlyList<RouteKey> All { get; } = [Clusters, RoutesDir, StateDir, Admin, Limits, Telemetry, Logging, Fleet, ShutdownTimeoutMs, SocketCompletions];

    /// <summary>
    /// The keys inside each mapping of <see cref="All"/> (and of <c>clusters.&lt;name&gt;.schema_registry</c>), and whether the mapping holds them directly (<c>admin</c>) or
    /// maps names to mappings of them (<c>clusters</c>, <c>limits</c>).
    /// </summary>
    public static IReadOnlyDictionary<string, (IReadOnlyList<RouteKey> Keys, bool PerName)> Sections { get; } = new Dictionary<string, (IReadOnlyList<RouteKey>, bool)>(StringComparer.Ordinal)
    {
        [Clusters.Name] = (ClusterKeys, true),
        ["schema_registry"] = (SchemaRegistryKeys, false),
        [Limits.Name] = (LimitKeys, true),
        [Admin.Name] = (AdminKeys, false),
        [Telemetry.Name] = (TelemetryKeys, false),
        [Logging.Name] = (LoggingKeys, false),
        [Fleet.Name] = (FleetKeys, false),
    };

    /// <summary>The key named <paramref name="name"/> of <paramref name="keys"/>.</summary>
    public static RouteKey Of(IReadOnlyList<RouteKey> keys, string name) => keys.First(k => k.Name == name);
}
