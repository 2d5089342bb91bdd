namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's delivery settings: request format, batching, in-flight and rate limits.</summary>
public sealed record DeliverySettings
{
    /// <summary>
    /// <c>async_concurrency</c>: 0 = sync (strict partition order, one message or batch in flight per partition);
    /// N &gt; 0 = up to N requests in flight at once per route member, shared by its partitions.
    /// </summary>
    public int AsyncConcurrency { get; init; }

    /// <summary><c>ordering</c>: with <c>async_concurrency</c> &gt; 0 only; default <see cref="DeliveryOrdering.Key"/>.</summary>
    public DeliveryOrdering Ordering { get; init; } = RouteDefaults.Ordering;

    /// <summary>
    /// <c>max_pending</c>: fetched but unfinished messages per partition; fetching of the partition pauses at this
    /// bound and resumes at half of it. Default <see cref="RouteDefaults.MaxPending"/>.
    /// </summary>
    public int MaxPending { get; init; } = RouteDefaults.MaxPending;

    /// <summary>
    /// <c>max_pending_bytes</c>: key + value bytes of fetched but unfinished messages per route member, over all its
    /// partitions (1 KiB to 1 GiB); fetching pauses at this bound and resumes at half of it. A single larger message
    /// still goes through. Default <see cref="RouteDefaults.MaxPendingBytes"/>.
    /// </summary>
    public int MaxPendingBytes { get; init; } = RouteDefaults.MaxPendingBytes;

    /// <summary><c>format</c>: the request body; default <see cref="RequestFormat.Form"/>.</summary>
    public RequestFormat Format { get; init; } = RouteDefaults.Format;

    /// <summary><c>content_type</c>: the Content-Type of <c>format: raw</c>; default <see cref="RouteDefaults.RawContentType"/>.</summary>
    public string ContentType { get; init; } = RouteDefaults.RawContentType;

    /// <summary>
    /// <c>cloudevents_type</c>: the <c>type</c> attribute of the events <c>format: cloudevents</c> makes from plain
    /// records; default <see cref="RouteDefaults.CloudEventsType"/>.
    /// </summary>
    public string CloudEventsType { get; init; } = RouteDefaults.CloudEventsType;

    /// <summary><c>batch_size</c>: messages per request (<c>format: json</c> or <c>cloudevents</c> only); 1 = no batching (default).</summary>
    public int BatchSize { get; init; } = RouteDefaults.BatchSize;

    /// <summary><c>batch_linger_ms</c>: how long a batch that is not full may wait for more messages; default <see cref="RouteDefaults.BatchLingerMs"/>.</summary>
    public int BatchLingerMs { get; init; } = RouteDefaults.BatchLingerMs;

    /// <summary>
    /// <c>max_requests_per_second</c>: requests (attempts, retries included) the route sends per second at most, shared
    /// by all its members in this process; null (default) = no limit.
    /// </summary>
    public int? MaxRequestsPerSecond { get; init; }

    /// <summary>
    /// <c>adaptive_concurrency</c>: with <c>async_concurrency</c> &gt; 0, the in-flight limit adapts between 1 and
    /// <c>async_concurrency</c> to the endpoint's answers and latency. Default false: the limit is fixed.
    /// </summary>
    public bool AdaptiveConcurrency { get; init; }

    /// <summary><c>limit</c>: the name of a shared budget of <c>kcp.yaml</c>'s <c>limits</c>; null = none.</summary>
    public string? Limit { get; init; }
}
