using System.Globalization;

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

/// <summary>In what order <c>async_concurrency</c> &gt; 0 delivers a partition's messages (<c>ordering</c>).</summary>
public enum DeliveryOrdering
{
    /// <summary>
    /// <c>key</c> (default): messages with the same key are never in flight together and arrive in offset order;
    /// different keys run in parallel. All null-key messages of a partition count as one key.
    /// </summary>
    Key,

    /// <summary><c>none</c>: any message may be in flight with any other; no order at all.</summary>
    None,
}

/// <summary>What the HTTP request carries (<c>format</c>).</summary>
public enum RequestFormat
{
    /// <summary><c>form</c> (default): the previous service's <c>application/x-www-form-urlencoded</c> body <c>m</c>, <c>p</c>, <c>o</c>.</summary>
    Form,

    /// <summary><c>json</c>: a JSON envelope with topic, partition, offset, timestamp, key, value and headers; with batching an array of them.</summary>
    Json,

    /// <summary><c>raw</c>: the value bytes unchanged, with <c>content_type</c>; the metadata travels in HTTP headers.</summary>
    Raw,
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

    /// <summary><c>batch_size</c>: messages per request (<c>format: json</c> only); 1 = no batching (default).</summary>
    public int BatchSize { get; init; } = RouteDefaults.BatchSize;

    /// <summary><c>batch_linger_ms</c>: how long a batch that is not full may wait for more messages; default <see cref="RouteDefaults.BatchLingerMs"/>.</summary>
    public int BatchLingerMs { get; init; } = RouteDefaults.BatchLingerMs;

    public DeliveryGuarantee MessageDeliveryGuarantees { get; init; } = RouteDefaults.MessageDeliveryGuarantees;

    public ResponseCheck ResponseCheck { get; init; } = RouteDefaults.ResponseCheck;

    /// <summary><c>commit_interval_ms</c>: commit period in mode 1.</summary>
    public int CommitIntervalMs { get; init; } = RouteDefaults.CommitIntervalMs;

    /// <summary>
    /// The delivery mode for the start-up log line, e.g. <c>sync; format form; max_pending 10000</c> or
    /// <c>async 64 ordering key; format json; max_pending 10000; batch 100 linger 5 ms</c>. Parts are separated by
    /// "; " so the log line's own ", " separators still delimit it.
    /// </summary>
    public string DescribeDelivery()
    {
        var mode = AsyncConcurrency == 0
            ? "sync"
            : string.Create(CultureInfo.InvariantCulture, $"async {AsyncConcurrency} ordering {Ordering.ToString().ToLowerInvariant()}");
        var text = string.Create(CultureInfo.InvariantCulture, $"{mode}; format {Format.ToString().ToLowerInvariant()}; max_pending {MaxPending}");
        return BatchSize > 1 ? text + string.Create(CultureInfo.InvariantCulture, $"; batch {BatchSize} linger {BatchLingerMs} ms") : text;
    }
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

    /// <summary>Same-key messages in order, different keys in parallel.</summary>
    public const DeliveryOrdering Ordering = DeliveryOrdering.Key;

    /// <summary>
    /// 10,000 unfinished messages per partition before its fetching pauses. A pause drops what the client had
    /// already fetched ahead for the partition (up to a fetch of 1 MiB), and a resume fetches it again; with 1,000
    /// that refetching, not delivery, limited a backlog's throughput to a fifth of what 10,000 allows, while 10,000
    /// messages of 100 bytes hold only a few MB.
    /// </summary>
    public const int MaxPending = 10_000;

    /// <summary>64 MiB of message keys and values pending per route member (<c>max_pending_bytes</c>).</summary>
    public const int MaxPendingBytes = 64 * 1024 * 1024;

    /// <summary>The smallest <c>max_pending_bytes</c>: 1 KiB.</summary>
    public const int MinPendingBytes = 1024;

    /// <summary>The largest <c>max_pending_bytes</c>: 1 GiB.</summary>
    public const int MaxMaxPendingBytes = 1024 * 1024 * 1024;

    public const RequestFormat Format = RequestFormat.Form;

    /// <summary>Content-Type of <c>format: raw</c> when <c>content_type</c> is not set.</summary>
    public const string RawContentType = "application/octet-stream";

    /// <summary>1: one message per request.</summary>
    public const int BatchSize = 1;

    /// <summary>5 ms: long enough to fill batches under load, short enough not to be felt at low rates.</summary>
    public const int BatchLingerMs = 5;
}
