namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// A route's non-blocking retry lane (<c>retry_topic</c>, <c>retry_topic_delays_ms</c>): a failed message leaves its
/// partition as a copy in the retry topic and is tried again from there after each round's delay, while the messages
/// behind it go on. Only for unordered routes (<c>async_concurrency</c> &gt; 0, <c>ordering: none</c>, <c>batch_size</c> 1);
/// off by default. The lane is consumed by the route's own members in the group <see cref="GroupOf"/>.
/// </summary>
internal sealed record RetryLaneSettings
{
    /// <summary><c>retry_topic</c>: null (default) = no lane; a failing message is retried in place.</summary>
    public string? Topic { get; init; }

    public static readonly RouteKey TopicKey = RouteKey.String("retry_topic") with { Description = "A failing message is written to this topic and retried from there after each delay of retry_topic_delays_ms, while its partition goes on; only with async_concurrency > 0 and ordering: none; default none." };

    /// <summary>Three rounds, 1 s, 10 s and 60 s after the failure before each: a blip, a restart, a short outage.</summary>
    public static readonly IReadOnlyList<int> DefaultDelaysMs = [1000, 10_000, 60_000];

    /// <summary>
    /// <c>retry_topic_delays_ms</c>: the wait before each round of the lane, one entry per round (1 to
    /// <see cref="MaxRounds"/> entries, each 1 ms to 24 h); default <see cref="DefaultDelaysMs"/>: 1 s, 10 s, 60 s.
    /// </summary>
    public IReadOnlyList<int> DelaysMs { get; init; } = DefaultDelaysMs;

    public static readonly RouteKey DelaysMsKey = new("retry_topic_delays_ms", RouteKeyKind.IntegerList)
    {
        Min = 1,
        Max = MaxDelayMs,
        Default = DefaultDelaysMs,
        Description = "The wait before each round of the retry lane, in milliseconds, one entry per round (at most 10); only with retry_topic.",
    };

    /// <summary>The most rounds a lane may have (10): a message is held in the lane for at most ten delays.</summary>
    public const int MaxRounds = 10;

    /// <summary>The longest delay of a round: 24 h. A copy waits in memory until it is due, and its lane partition is
    /// committed only past it.</summary>
    public const int MaxDelayMs = 86_400_000;

    /// <summary>True when the route has a retry lane.</summary>
    public bool Enabled => Topic is not null;

    /// <summary>The consumer group that reads a route's retry topic: the route's group with <c>.retry</c> appended, so
    /// that the lane's members never rebalance the route's own.</summary>
    public static string GroupOf(string group) => group + ".retry";
}
