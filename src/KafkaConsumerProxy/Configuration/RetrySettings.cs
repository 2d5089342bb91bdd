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
    /// <summary><c>can_skip</c>: false = a failing message is retried forever and its partition waits (required).</summary>
    public bool CanSkip { get; init; }

    public static readonly RouteKey CanSkipKey = new("can_skip", RouteKeyKind.Boolean) { Required = true };

    /// <summary><c>retry_nums</c>: with <c>can_skip</c>, retries before a message is skipped (attempts = retry_nums + 1).</summary>
    public int RetryNums { get; init; }

    public static readonly RouteKey RetryNumsKey = RouteKey.RequiredInteger("retry_nums", 0, int.MaxValue);

    /// <summary><c>retry_interval_ms</c>: the wait before a retry; with exponential backoff the first wait (required).</summary>
    public int RetryIntervalMs { get; init; }

    public static readonly RouteKey RetryIntervalMsKey = RouteKey.RequiredInteger("retry_interval_ms", 0, int.MaxValue);

    /// <summary><c>retry_backoff</c>: default <see cref="RetryBackoff.Constant"/>.</summary>
    public RetryBackoff Backoff { get; init; } = RouteDefaults.Backoff;

    public static readonly RouteKey BackoffKey = RouteKey.Choice("retry_backoff", RouteDefaults.Backoff);

    /// <summary>
    /// <c>retry_max_interval_ms</c>: the longest wait before a retry, for exponential backoff and for a
    /// <c>Retry-After</c> answer; default <see cref="RouteDefaults.RetryMaxIntervalMs"/> (60,000).
    /// </summary>
    public int RetryMaxIntervalMs { get; init; } = RouteDefaults.RetryMaxIntervalMs;

    public static readonly RouteKey RetryMaxIntervalMsKey = RouteKey.Integer("retry_max_interval_ms", 1, 86_400_000, RouteDefaults.RetryMaxIntervalMs);

    /// <summary>
    /// <c>skip_on_status</c>: HTTP statuses that are a permanent failure; with <c>can_skip: true</c> such an answer
    /// skips the message at once, with <c>can_skip: false</c> it is retried as usual. Default empty.
    /// </summary>
    public IReadOnlySet<int> SkipOnStatus { get; init; } = new HashSet<int>();

    public static readonly RouteKey SkipOnStatusKey = new("skip_on_status", RouteKeyKind.IntegerList) { Min = 100, Max = 599 };
}
