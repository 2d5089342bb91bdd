namespace KafkaConsumerProxy.Configuration;

/// <summary>How the wait between two attempts grows (<c>retry_backoff</c>).</summary>
internal enum RetryBackoff
{
    /// <summary><c>constant</c> (default): <c>retry_interval_ms</c> before every retry, the previous service's behaviour.</summary>
    Constant,

    /// <summary>
    /// <c>exponential</c>: <c>retry_interval_ms</c> doubling per attempt up to <c>retry_max_interval_ms</c>, each wait
    /// drawn at random between half of it and all of it (jitter), so that many failing messages do not retry in step.
    /// </summary>
    Exponential,
}

/// <summary>A route's retry and skip settings.</summary>
internal sealed record RetrySettings
{
    /// <summary>
    /// <c>can_skip</c>: false = a failing message is retried forever and its partition waits; default false, so that no
    /// message is given up on unless the route says so.
    /// </summary>
    public bool CanSkip { get; init; }

    public static readonly RouteKey CanSkipKey = RouteKey.Boolean("can_skip", false) with { Description = "false: a failing message is retried forever and its partition waits; true: it is skipped after retry_nums retries." };

    /// <summary>
    /// <c>retry_nums</c>: with <c>can_skip</c>, retries before a message is skipped (attempts = retry_nums + 1);
    /// default <see cref="RouteDefaults.RetryNums"/> (3). Without <c>can_skip</c> it has no effect.
    /// </summary>
    public int RetryNums { get; init; } = RouteDefaults.RetryNums;

    public static readonly RouteKey RetryNumsKey = RouteKey.Integer("retry_nums", 0, int.MaxValue, RouteDefaults.RetryNums) with { Description = "With can_skip: true, retries before a message is skipped (attempts = retry_nums + 1)." };

    /// <summary>
    /// <c>retry_interval_ms</c>: the wait before a retry; with exponential backoff the first wait; default
    /// <see cref="RouteDefaults.RetryIntervalMs"/> (1,000).
    /// </summary>
    public int RetryIntervalMs { get; init; } = RouteDefaults.RetryIntervalMs;

    public static readonly RouteKey RetryIntervalMsKey = RouteKey.Integer("retry_interval_ms", 0, int.MaxValue, RouteDefaults.RetryIntervalMs) with { Description = "Wait before a retry, in milliseconds; with exponential backoff the first wait." };

    /// <summary><c>retry_backoff</c>: default <see cref="RetryBackoff.Constant"/>.</summary>
    public RetryBackoff Backoff { get; init; } = RouteDefaults.Backoff;

    public static readonly RouteKey BackoffKey = RouteKey.Choice("retry_backoff", RouteDefaults.Backoff) with { Description = "constant: retry_interval_ms before every retry; exponential: doubling with jitter up to retry_max_interval_ms." };

    /// <summary>
    /// <c>retry_max_interval_ms</c>: the longest wait before a retry, for exponential backoff and for a
    /// <c>Retry-After</c> answer; default <see cref="RouteDefaults.RetryMaxIntervalMs"/> (60,000).
    /// </summary>
    public int RetryMaxIntervalMs { get; init; } = RouteDefaults.RetryMaxIntervalMs;

    public static readonly RouteKey RetryMaxIntervalMsKey = RouteKey.Integer("retry_max_interval_ms", 1, 86_400_000, RouteDefaults.RetryMaxIntervalMs) with { Description = "Longest wait before a retry (exponential backoff, Retry-After), in milliseconds; at least retry_interval_ms." };

    /// <summary>
    /// <c>skip_on_status</c>: HTTP statuses that are a permanent failure; with <c>can_skip: true</c> such an answer
    /// skips the message at once, with <c>can_skip: false</c> it is retried as usual. Default empty.
    /// </summary>
    public IReadOnlySet<int> SkipOnStatus { get; init; } = new HashSet<int>();

    public static readonly RouteKey SkipOnStatusKey = new("skip_on_status", RouteKeyKind.IntegerList) { Min = 100, Max = 599, Description = "HTTP statuses that are a permanent failure: with can_skip: true such an answer skips the message at once." };

    /// <summary>
    /// <c>breaker_failures</c>: consecutive failed attempts across the route (every partition and member) after which
    /// the route's circuit breaker opens and only probes are sent; 0 = no breaker. Which failures count is
    /// <c>Delivery/CircuitBreaker.IsOutageSign</c>'s rule. Default <see cref="RouteDefaults.BreakerFailures"/> (20).
    /// </summary>
    public int BreakerFailures { get; init; } = RouteDefaults.BreakerFailures;

    public static readonly RouteKey BreakerFailuresKey = RouteKey.Integer("breaker_failures", 0, 1_000_000, RouteDefaults.BreakerFailures) with { Description = "Consecutive failed attempts across the route that open its circuit breaker; 0 = no breaker." };

    /// <summary>
    /// <c>breaker_probe_interval_ms</c>: while the breaker is open, one probe (an attempt of a waiting message) is sent
    /// per interval at most. Default <see cref="RouteDefaults.BreakerProbeIntervalMs"/> (1,000).
    /// </summary>
    public int BreakerProbeIntervalMs { get; init; } = RouteDefaults.BreakerProbeIntervalMs;

    public static readonly RouteKey BreakerProbeIntervalMsKey = RouteKey.Integer("breaker_probe_interval_ms", 10, 3_600_000, RouteDefaults.BreakerProbeIntervalMs) with { Description = "While the breaker is open, one probe per this many milliseconds; only with breaker_failures > 0." };
}
