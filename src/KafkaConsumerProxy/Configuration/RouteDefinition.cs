namespace KafkaConsumerProxy.Configuration;

/// <summary>How a delivery's HTTP response is judged.</summary>
public enum ResponseCheck
{
    /// <summary>2xx status and a JSON object body whose <c>errno</c> is absent, 0, false, "" or null (the default).</summary>
    Errno,

    /// <summary>Any 2xx status; the body is not read.</summary>
    Status,
}

/// <summary>
/// The commit modes of <c>message_delivery_guarantees</c>. Every mode commits only offsets whose message was
/// delivered or deliberately skipped; they differ in how often commits happen and how the local offset store is used.
/// </summary>
public enum DeliveryGuarantee
{
    /// <summary>1: commits are batched every <c>commit_interval_ms</c>; after a crash up to one interval repeats.</summary>
    BatchedCommit = 1,

    /// <summary>2 (default): at least once; commits are coalesced and sent promptly after delivery.</summary>
    AtLeastOnce = 2,

    /// <summary>3: as 2, but a message counts as done only when its local offset record is durable on disk.</summary>
    NoRepeatOnOneMachine = 3,
}

/// <summary>
/// One route: a (topic, consumer group) pair whose messages are pushed to one HTTP endpoint.
/// Loaded from one file of <c>routes_dir</c>; key names follow the route files of the previous service.
/// Defaults are declared in <see cref="RouteDefaults"/>.
/// </summary>
public sealed record RouteDefinition
{
    /// <summary>The route's name: its file name without extension.</summary>
    public required string Name { get; init; }

    /// <summary>The file the route was loaded from (for error messages).</summary>
    public required string SourceFile { get; init; }

    public required string Topic { get; init; }

    public required string Group { get; init; }

    /// <summary><c>cluster</c>: name of an entry of <c>clusters</c>; default <c>default</c>.</summary>
    public string Cluster { get; init; } = RouteDefaults.Cluster;

    /// <summary><c>host</c>: one or more endpoint hosts (the file gives them separated by commas).</summary>
    public required IReadOnlyList<string> Hosts { get; init; }

    public required int Port { get; init; }

    /// <summary><c>url</c>: the request path, starting with '/'.</summary>
    public required string Url { get; init; }

    /// <summary><c>concurrency</c>: members of the consumer group this process runs for the route.</summary>
    public required int Concurrency { get; init; }

    public required bool CanSkip { get; init; }

    /// <summary><c>retry_nums</c>: with <c>can_skip</c>, retries before a message is skipped (attempts = retry_nums + 1).</summary>
    public required int RetryNums { get; init; }

    public required int RetryIntervalMs { get; init; }

    public required int ConnTimeoutMs { get; init; }

    public required int ExecTimeoutMs { get; init; }

    /// <summary><c>use_saved_offset_time</c>: seconds; see offset anomalies. Negative disables restoring.</summary>
    public required int UseSavedOffsetTime { get; init; }

    /// <summary><c>slow_time_ms</c>: a delivery slower than this is logged; null = never.</summary>
    public int? SlowTimeMs { get; init; }

    /// <summary><c>domain</c>: value of the Host header; null = the host itself.</summary>
    public string? Domain { get; init; }

    public IReadOnlyDictionary<string, string> ConsumerConf { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> ConsumerTopicConf { get; init; } = new Dictionary<string, string>();

    /// <summary><c>async_concurrency</c>: 0 = sync (strict partition order).</summary>
    public int AsyncConcurrency { get; init; }

    public DeliveryGuarantee MessageDeliveryGuarantees { get; init; } = RouteDefaults.MessageDeliveryGuarantees;

    public ResponseCheck ResponseCheck { get; init; } = RouteDefaults.ResponseCheck;

    /// <summary><c>commit_interval_ms</c>: commit period in mode 1.</summary>
    public int CommitIntervalMs { get; init; } = RouteDefaults.CommitIntervalMs;
}

/// <summary>The single place where route defaults are declared.</summary>
public static class RouteDefaults
{
    public const string Cluster = "default";
    public const DeliveryGuarantee MessageDeliveryGuarantees = DeliveryGuarantee.AtLeastOnce;
    public const ResponseCheck ResponseCheck = Configuration.ResponseCheck.Errno;

    /// <summary>5000 ms between commits in mode 1.</summary>
    public const int CommitIntervalMs = 5000;

    /// <summary>Commits of modes 2 and 3 are coalesced over this many milliseconds.</summary>
    public const int CoalescedCommitIntervalMs = 200;
}
