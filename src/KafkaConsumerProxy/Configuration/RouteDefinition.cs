using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>How a delivery's HTTP response is judged.</summary>
internal enum ResponseCheck
{
    /// <summary>2xx status and a JSON object body whose <c>errno</c> is absent, 0, false, "" or null (the default).</summary>
    Errno,

    /// <summary>Any 2xx status; the body is not read.</summary>
    Status,

    /// <summary>
    /// <c>response_expression</c> decides, over the status, the headers and the body (<see cref="Configuration.ResponseExpression"/>);
    /// the body is read on any status.
    /// </summary>
    Expression,
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
internal enum DeliveryOrdering
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
internal enum RequestFormat
{
    /// <summary><c>form</c> (default): the previous service's <c>application/x-www-form-urlencoded</c> body <c>m</c>, <c>p</c>, <c>o</c>.</summary>
    Form,

    /// <summary><c>json</c>: a JSON envelope with topic, partition, offset, timestamp, key, value and headers; with batching an array of them.</summary>
    Json,

    /// <summary><c>raw</c>: the value bytes unchanged, with <c>content_type</c>; the metadata travels in HTTP headers.</summary>
    Raw,

    /// <summary>
    /// <c>cloudevents</c>: a CloudEvent in the HTTP binding's binary content mode (the value is the body, the attributes
    /// are <c>ce-*</c> headers); with batching an <c>application/cloudevents-batch+json</c> array. A record that already
    /// is a CloudEvent is sent as that event. See <c>Delivery/CloudEventMapping</c>.
    /// </summary>
    CloudEvents,
}

/// <summary>
/// One route: a (topic, consumer group) pair whose messages are pushed to one HTTP endpoint.
/// Loaded from one file of <c>routes_dir</c>; key names follow the route files of the previous service, and the file
/// keeps them flat. In code the settings are grouped by what they govern: <see cref="Endpoint"/>, <see cref="Retry"/>,
/// <see cref="Delivery"/>, <see cref="Offsets"/> and <see cref="DeadLetter"/>.
/// Default values are declared in <see cref="RouteDefaults"/>; each key's name, range and default is declared once as a
/// <see cref="RouteKey"/> field next to the property it sets (listed by <see cref="RouteKeys.All"/>).
/// </summary>
internal sealed record RouteDefinition
{
    /// <summary>The route's name: its file name without extension.</summary>
    public required string Name { get; init; }

    /// <summary>The file the route was loaded from (for error messages).</summary>
    public required string SourceFile { get; init; }

    public required string Topic { get; init; }

    public static readonly RouteKey TopicKey = RouteKey.RequiredString("topic") with { Description = "The Kafka topic to consume." };

    public required string Group { get; init; }

    public static readonly RouteKey GroupKey = RouteKey.RequiredString("group") with { Description = "The consumer group (group.id) of the route." };

    /// <summary><c>cluster</c>: name of an entry of <c>clusters</c>; default <c>default</c>.</summary>
    public string Cluster { get; init; } = RouteDefaults.Cluster;

    public static readonly RouteKey ClusterKey = RouteKey.String("cluster", RouteDefaults.Cluster) with { Description = "The Kafka cluster of the route: a name under clusters in kcp.yaml." };

    /// <summary><c>concurrency</c>: members of the consumer group this process runs for the route; default 1.</summary>
    public int Concurrency { get; init; } = RouteDefaults.Concurrency;

    public static readonly RouteKey ConcurrencyKey = RouteKey.Integer("concurrency", 1, 256, RouteDefaults.Concurrency) with { Description = "Members of the route's consumer group this process runs." };

    /// <summary>What <c>consumer_conf</c> and <c>consumer_topic_conf</c> hold, as error messages say it.</summary>
    internal const string ConfShape = "a mapping of librdkafka property names to string, number or bool values";

    /// <summary>
    /// <c>assignor</c>: librdkafka's <c>partition.assignment.strategy</c> for the route's members; default
    /// <see cref="RouteDefaults.Assignor"/>. Cooperative-sticky keeps the partitions a member is not asked to give up
    /// delivering through a rebalance; an eager assignor (range, roundrobin) is for a group shared with consumers that
    /// use one, since the two kinds cannot share a group (docs/FLEET.md).
    /// </summary>
    public string Assignor { get; init; } = RouteDefaults.Assignor;

    public static readonly RouteKey AssignorKey = new("assignor", RouteKeyKind.Choice) { Choices = [RouteDefaults.Assignor, "range", "roundrobin"], Default = RouteDefaults.Assignor, Description = "The group's partition assignor: cooperative-sticky moves only the partitions that change owner at a rebalance." };

    public IReadOnlyDictionary<string, string> ConsumerConf { get; init; } = new Dictionary<string, string>();

    public static readonly RouteKey ConsumerConfKey = RouteKey.Mapping("consumer_conf", ConfShape) with { Description = "librdkafka consumer properties for this route, applied after the cluster's." };

    public IReadOnlyDictionary<string, string> ConsumerTopicConf { get; init; } = new Dictionary<string, string>();

    public static readonly RouteKey ConsumerTopicConfKey = RouteKey.Mapping("consumer_topic_conf", ConfShape) with { Description = "librdkafka topic properties for this route." };

    /// <summary>Where and how requests are sent and answers judged.</summary>
    public EndpointSettings Endpoint { get; init; } = new();

    /// <summary>What happens after a failed attempt: waits, skips.</summary>
    public RetrySettings Retry { get; init; } = new();

    /// <summary>How messages are turned into requests and how many are in flight.</summary>
    public DeliverySettings Delivery { get; init; } = new();

    /// <summary>How finished offsets are committed and restored.</summary>
    public OffsetSettings Offsets { get; init; } = new();

    /// <summary>Where skipped messages are written (<c>dead_letter_topic</c>); off by default.</summary>
    public DeadLetterSettings DeadLetter { get; init; } = new();

    /// <summary>Where failing messages are retried without holding up their partition (<c>retry_topic</c>); off by default.</summary>
    public RetryLaneSettings RetryLane { get; init; } = new();

    /// <summary>How typed keys and values are decoded (<c>value_format</c>, <c>key_format</c>); off by default.</summary>
    public DecodingSettings Decoding { get; init; } = new();

    /// <summary>
    /// The delivery mode for the start-up log line, e.g. <c>sync; format form; max_pending 10000</c> or
    /// <c>async 64 ordering key; format json; max_pending 10000; batch 100 linger 5 ms</c>. Parts are separated by
    /// "; " so the log line's own ", " separators still delimit it.
    /// </summary>
    public string DescribeDelivery()
    {
        var d = Delivery;
        var mode = d.AsyncConcurrency == 0
            ? "sync"
            : string.Create(CultureInfo.InvariantCulture, $"async {d.AsyncConcurrency} ordering {d.Ordering.ToString().ToLowerInvariant()}");
        var text = string.Create(CultureInfo.InvariantCulture, $"{mode}; format {d.Format.ToString().ToLowerInvariant()}; max_pending {d.MaxPending}");
        if (RetryLane.Topic is { } lane)
            text += $"; retry lane {lane} after {string.Join(", ", RetryLane.DelaysMs.Select(ms => ms.ToString(CultureInfo.InvariantCulture)))} ms";
        return d.BatchSize > 1 ? text + string.Create(CultureInfo.InvariantCulture, $"; batch {d.BatchSize} linger {d.BatchLingerMs} ms") : text;
    }
}

/// <summary>The single place where route defaults are declared.</summary>
internal static class RouteDefaults
{
    public const string Cluster = "default";

    /// <summary>1 group member per route in this process: enough for most topics; more spread the partitions.</summary>
    public const int Concurrency = 1;

    /// <summary>The request path when a route sets none (<c>url</c>, or an <c>endpoint</c> URL without a path).</summary>
    public const string Url = "/";

    /// <summary>3 retries before a skip, when <c>can_skip: true</c> and <c>retry_nums</c> is not set.</summary>
    public const int RetryNums = 3;

    /// <summary>1,000 ms between attempts: an endpoint that is down is not hammered, a brief failure costs a second.</summary>
    public const int RetryIntervalMs = 1000;

    /// <summary>3,000 ms to connect: longer than a lost SYN's first retransmission (1 s), short enough to move on.</summary>
    public const int ConnTimeoutMs = 3000;

    /// <summary>
    /// 10,000 ms for a whole request: generous for an HTTP handler, and a stop, which lets attempts in flight finish,
    /// still ends well within the 30 s a container runtime grants.
    /// </summary>
    public const int ExecTimeoutMs = 10_000;

    /// <summary>
    /// The partition assignor (<c>assignor</c>): cooperative-sticky, so that a rebalance moves only the partitions that
    /// change owner and the others keep delivering.
    /// </summary>
    public const string Assignor = "cooperative-sticky";
    public const DeliveryGuarantee MessageDeliveryGuarantees = DeliveryGuarantee.AtLeastOnce;
    public const ResponseCheck ResponseCheck = Configuration.ResponseCheck.Errno;

    /// <summary>5000 ms between commits in mode 1.</summary>
    public const int CommitIntervalMs = 5000;

    /// <summary>
    /// 20,000 offsets of a partition fetched past its last successful commit before its fetching pauses: twice
    /// <see cref="MaxPending"/>, so the bound never stops a partition whose commits go through (kcp commits early once
    /// half of it is reached), and a takeover after commits were refused repeats at most that many of its messages.
    /// </summary>
    public const int MaxUncommitted = 20_000;

    /// <summary>The largest <c>max_uncommitted</c>.</summary>
    public const int MaxMaxUncommitted = 100_000_000;

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

    /// <summary>
    /// 24 MiB of message keys and values pending per route member (<c>max_pending_bytes</c>), 96 MiB for the default 4
    /// members. With 64 MiB, 900 KB values behind a 50 ms endpoint held 4 × 64 MiB of values and the process peaked at
    /// 443 MB; 24 MiB gave 256 MB at the same 209 msg/s as 32 MiB (318 MB) (docs/PERFORMANCE-LAB.md, "Fix 6"). Messages
    /// of a few hundred bytes reach <c>max_pending</c> long before this.
    /// </summary>
    public const int MaxPendingBytes = 24 * 1024 * 1024;

    /// <summary>The smallest <c>max_pending_bytes</c>: 1 KiB.</summary>
    public const int MinPendingBytes = 1024;

    /// <summary>The largest <c>max_pending_bytes</c>: 1 GiB.</summary>
    public const int MaxMaxPendingBytes = 1024 * 1024 * 1024;

    public const RequestFormat Format = RequestFormat.Form;

    /// <summary>Content-Type of <c>format: raw</c> when <c>content_type</c> is not set.</summary>
    public const string RawContentType = "application/octet-stream";

    /// <summary>The CloudEvents <c>type</c> of the events <c>format: cloudevents</c> makes (<c>cloudevents_type</c>).</summary>
    public const string CloudEventsType = "kafka.record";

    /// <summary>1: one message per request.</summary>
    public const int BatchSize = 1;

    /// <summary>5 ms: long enough to fill batches under load, short enough not to be felt at low rates.</summary>
    public const int BatchLingerMs = 5;

    /// <summary><c>constant</c>: <c>retry_interval_ms</c> before every retry, as the previous service did.</summary>
    public const RetryBackoff Backoff = RetryBackoff.Constant;

    /// <summary>1,000,000: the highest <c>max_requests_per_second</c> of a route or shared budget.</summary>
    public const int MaxRequestsPerSecondLimit = 1_000_000;

    /// <summary>60,000 ms: the longest wait between attempts (<c>retry_max_interval_ms</c>).</summary>
    public const int RetryMaxIntervalMs = 60_000;

    /// <summary>20: the consecutive failed attempts of a route that open its circuit breaker (<c>breaker_failures</c>).</summary>
    public const int BreakerFailures = 20;

    /// <summary>1,000 ms: one probe a second while a route's breaker is open (<c>breaker_probe_interval_ms</c>).</summary>
    public const int BreakerProbeIntervalMs = 1000;
}
