namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's endpoint: where requests go, how long they may take and how answers are judged.</summary>
public sealed record EndpointSettings
{
    /// <summary><c>host</c>: one or more endpoint hosts (the file gives them separated by commas).</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary><c>port</c>: the endpoint's TCP port (required).</summary>
    public int Port { get; init; }

    /// <summary><c>url</c>: the request path, starting with '/'.</summary>
    public string Url { get; init; } = "/";

    /// <summary><c>domain</c>: value of the Host header; null = the host itself.</summary>
    public string? Domain { get; init; }

    /// <summary><c>conn_timeout_ms</c>: the longest wait for a connection (required).</summary>
    public int ConnTimeoutMs { get; init; }

    /// <summary><c>exec_timeout_ms</c>: the longest wait for an answer (required).</summary>
    public int ExecTimeoutMs { get; init; }

    /// <summary><c>slow_time_ms</c>: a delivery slower than this is logged; null = never.</summary>
    public int? SlowTimeMs { get; init; }

    /// <summary><c>response_check</c>: default <see cref="RouteDefaults.ResponseCheck"/>.</summary>
    public ResponseCheck ResponseCheck { get; init; } = RouteDefaults.ResponseCheck;
}
