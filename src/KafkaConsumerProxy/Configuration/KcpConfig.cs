namespace KafkaConsumerProxy.Configuration;

/// <summary>A Kafka cluster that routes can name in <c>cluster</c>.</summary>
internal sealed record ClusterDefinition(
    string Name,
    string BootstrapServers,
    IReadOnlyDictionary<string, string> ConsumerConf)
{
    /// <summary><c>schema_registry</c>: where the schemas of the cluster's typed topics are; null (default) = none.</summary>
    public SchemaRegistrySettings? SchemaRegistry { get; init; }
}

/// <summary>The validated content of <c>kcp.yaml</c> and its routes directory.</summary>
internal sealed record KcpConfig
{
    /// <summary>Absolute path of the main config file.</summary>
    public required string ConfigFile { get; init; }

    public required IReadOnlyDictionary<string, ClusterDefinition> Clusters { get; init; }

    /// <summary>Absolute path of <c>routes_dir</c> (default <c>routes</c>, relative to the config file).</summary>
    public required string RoutesDir { get; init; }

    /// <summary>Absolute path of <c>state_dir</c> (default <c>state</c>, relative to the config file).</summary>
    public required string StateDir { get; init; }

    public required IReadOnlyList<RouteDefinition> Routes { get; init; }

    /// <summary>The <c>admin</c> section: the metrics, status and actions endpoint.</summary>
    public AdminSettings Admin { get; init; } = AdminSettings.Default;

    /// <summary><c>limits</c>: shared budgets by name, which routes name with <c>limit</c>; default none.</summary>
    public IReadOnlyDictionary<string, LimitDefinition> Limits { get; init; } = new Dictionary<string, LimitDefinition>();

    /// <summary>The <c>telemetry</c> section: OTLP export of traces and metrics; default off.</summary>
    public TelemetrySettings Telemetry { get; init; } = TelemetrySettings.Off;

    /// <summary>The <c>logging</c> section: format and level of the log lines.</summary>
    public LoggingSettings Logging { get; init; } = LoggingSettings.Default;

    /// <summary>The <c>fleet</c> section: the control topic shared by every kcp running these routes; default off.</summary>
    public FleetSettings Fleet { get; init; } = FleetSettings.Off;

    /// <summary>
    /// <c>shutdown_timeout_ms</c>: how long a stop (SIGTERM) lets the deliveries in flight finish; requests still in
    /// flight after it are cancelled and their messages stay uncommitted. The final commit and leaving the group come
    /// after it. The default value is <see cref="DefaultShutdownTimeoutMs"/> (30 s).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromMilliseconds(DefaultShutdownTimeoutMs);

    /// <summary>The default of <c>shutdown_timeout_ms</c>: 30,000.</summary>
    public const int DefaultShutdownTimeoutMs = 30_000;

    /// <summary>The range of <c>shutdown_timeout_ms</c>: 1,000 to 600,000 (10 minutes).</summary>
    public const int MinShutdownTimeoutMs = 1_000, MaxShutdownTimeoutMs = 600_000;

    /// <summary>
    /// <c>socket_completions</c>: <see cref="InlineSocketCompletions"/> (the default) runs the continuation of a socket
    /// operation, such as the code that handles an endpoint's answer, on the runtime's socket thread that saw it complete;
    /// <see cref="ThreadPoolSocketCompletions"/> hands it to a thread-pool worker first (the runtime's own default). Applied
    /// once, at the start of <c>kcp run</c>, through the runtime's <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c>,
    /// which wins when the environment sets it.
    /// </summary>
    public string SocketCompletions { get; init; } = InlineSocketCompletions;

    /// <summary>True when <see cref="SocketCompletions"/> is <see cref="InlineSocketCompletions"/>.</summary>
    public bool SocketCompletionsInline => SocketCompletions == InlineSocketCompletions;

    /// <summary>The values of <c>socket_completions</c>.</summary>
    public const string InlineSocketCompletions = "inline", ThreadPoolSocketCompletions = "thread_pool";

    /// <inheritdoc cref="InlineSocketCompletions"/>
    public static readonly string[] SocketCompletionChoices = [InlineSocketCompletions, ThreadPoolSocketCompletions];

    /// <summary>
    /// The longest a clean stop may take: the drain (<see cref="ShutdownTimeout"/>), the final commit's patience
    /// (15 s, while a rebalance refuses commits) and leaving the group; the host's shutdown timeout.
    /// </summary>
    public TimeSpan LongestStop => ShutdownTimeout + TimeSpan.FromSeconds(25);
}

/// <summary>
/// A shared budget of <c>limits</c>: every route naming it with <c>limit</c> shares its rate and its in-flight
/// requests, in this process. Null = not limited.
/// </summary>
internal sealed record LimitDefinition(string Name, int? MaxRequestsPerSecond, int? MaxConcurrency);
