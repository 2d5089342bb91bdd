namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's delivery settings: request format, batching, in-flight and rate limits.</summary>
internal sealed record DeliverySettings
{
    /// <summary>
    /// <c>async_concurrency</c>: 0 = sync (strict partition order, one message or batch in flight per partition);
    /// N &gt; 0 = up to N requests in flight at once per route member, shared by its partitions.
    /// </summary>
    public int AsyncConcurrency { get; init; }

    public static readonly RouteKey AsyncConcurrencyKey = RouteKey.Integer("async_concurrency", 0, 10_000, 0) with { Description = "0 = sync (one message or batch in flight per partition, in offset order); N = up to N requests in flight per route member." };

    /// <summary><c>ordering</c>: with <c>async_concurrency</c> &gt; 0 only; default <see cref="DeliveryOrdering.Key"/>.</summary>
    public DeliveryOrdering Ordering { get; init; } = RouteDefaults.Ordering;

    public static readonly RouteKey OrderingKey = RouteKey.Choice("ordering", RouteDefaults.Ordering) with { Description = "With async_concurrency > 0: key = same-key messages in order, different keys in parallel; none = no order." };

    /// <summary>
    /// <c>max_pending</c>: fetched but unfinished messages per partition; fetching of the partition pauses at this
    /// bound and resumes at half of it. Default <see cref="RouteDefaults.MaxPending"/>.
    /// </summary>
    public int MaxPending { get; init; } = RouteDefaults.MaxPending;

    public static readonly RouteKey MaxPendingKey = RouteKey.Integer("max_pending", 1, 1_000_000, RouteDefaults.MaxPending) with { Description = "Fetched but unfinished messages per partition; fetching pauses at the bound and resumes at half." };

    /// <summary>
    /// <c>max_pending_bytes</c>: key + value bytes of fetched but unfinished messages per route member, over all its
    /// partitions (1 KiB to 1 GiB); fetching pauses at this bound and resumes at half of it. A single larger message
    /// still goes through. Default <see cref="RouteDefaults.MaxPendingBytes"/>.
    /// </summary>
    public int MaxPendingBytes { get; init; } = RouteDefaults.MaxPendingBytes;

    public static readonly RouteKey MaxPendingBytesKey = RouteKey.Integer("max_pending_bytes", RouteDefaults.MinPendingBytes, RouteDefaults.MaxMaxPendingBytes, RouteDefaults.MaxPendingBytes) with { Description = "Key and value bytes of fetched but unfinished messages per route member; fetching pauses at the bound." };

    /// <summary><c>format</c>: the request body; default <see cref="RequestFormat.Form"/>.</summary>
    public RequestFormat Format { get; init; } = RouteDefaults.Format;

    public static readonly RouteKey FormatKey = RouteKey.Choice("format", RouteDefaults.Format) with { Description = "Request body: form (m, p, o), json (an envelope), raw (the value's bytes) or cloudevents." };

    /// <summary><c>content_type</c>: the Content-Type of <c>format: raw</c>; default <see cref="RouteDefaults.RawContentType"/>.</summary>
    public string ContentType { get; init; } = RouteDefaults.RawContentType;

    public static readonly RouteKey ContentTypeKey = RouteKey.String("content_type", RouteDefaults.RawContentType) with { Description = "Content-Type of format: raw." };

    /// <summary>
    /// <c>cloudevents_type</c>: the <c>type</c> attribute of the events <c>format: cloudevents</c> makes from plain
    /// records; default <see cref="RouteDefaults.CloudEventsType"/>.
    /// </summary>
    public string CloudEventsType { get; init; } = RouteDefaults.CloudEventsType;

    public static readonly RouteKey CloudEventsTypeKey = RouteKey.String("cloudevents_type", RouteDefaults.CloudEventsType) with { Description = "The type attribute of the events made from plain records; only with format: cloudevents." };

    /// <summary><c>batch_size</c>: messages per request (<c>format: json</c> or <c>cloudevents</c> only); 1 = no batching (default).</summary>
    public int BatchSize { get; init; } = RouteDefaults.BatchSize;

    public static readonly RouteKey BatchSizeKey = RouteKey.Integer("batch_size", 1, 10_000, RouteDefaults.BatchSize) with { Description = "Messages per request (format json or cloudevents only); 1 = no batching." };

    /// <summary><c>batch_linger_ms</c>: how long a batch that is not full may wait for more messages; default <see cref="RouteDefaults.BatchLingerMs"/>.</summary>
    public int BatchLingerMs { get; init; } = RouteDefaults.BatchLingerMs;

    public static readonly RouteKey BatchLingerMsKey = RouteKey.Integer("batch_linger_ms", 0, 60_000, RouteDefaults.BatchLingerMs) with { Description = "How long a batch that is not full waits for more messages, in milliseconds; only with batch_size > 1." };

    /// <summary>
    /// <c>max_requests_per_second</c>: requests (attempts, retries included) the route sends per second at most, shared
    /// by all its members in this process; null (default) = no limit.
    /// </summary>
    public int? MaxRequestsPerSecond { get; init; }

    public static readonly RouteKey MaxRequestsPerSecondKey = RouteKey.Integer("max_requests_per_second", 1, RouteDefaults.MaxRequestsPerSecondLimit, null) with { Description = "Requests (retries included) the route starts per second at most, shared by its members; default no limit." };

    /// <summary>
    /// <c>adaptive_concurrency</c>: with <c>async_concurrency</c> &gt; 0, the in-flight limit adapts between 1 and
    /// <c>async_concurrency</c> to the endpoint's answers and latency. Default false: the limit is fixed.
    /// </summary>
    public bool AdaptiveConcurrency { get; init; }

    public static readonly RouteKey AdaptiveConcurrencyKey = RouteKey.Boolean("adaptive_concurrency", false) with { Description = "With async_concurrency > 0, the in-flight limit adapts between 1 and async_concurrency to the endpoint." };

    /// <summary><c>limit</c>: the name of a shared budget of <c>kcp.yaml</c>'s <c>limits</c>; null = none.</summary>
    public string? Limit { get; init; }

    public static readonly RouteKey LimitKey = RouteKey.String("limit") with { Description = "Name of a shared budget under kcp.yaml's limits." };
}
