using System.Globalization;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Delivery;

/// <summary>Which dead-letter messages <c>kcp dlq replay</c> delivers.</summary>
/// <param name="Partition">Only this partition of the dead-letter topic; null = all.</param>
/// <param name="FromOffset">Start at this dead-letter offset (every chosen partition); null = see <paramref name="FromTime"/>.</param>
/// <param name="FromTime">Only messages dead-lettered at or after this time; null = no lower bound.</param>
/// <param name="ToTime">Only messages dead-lettered at or before this time; null = up to the end at the start of the replay.</param>
/// <param name="Rate">Requests per second at most; null = the route's <c>max_requests_per_second</c>, if any.</param>
/// <param name="DryRun">List the messages, deliver nothing, commit nothing.</param>
internal sealed record ReplayRange(int? Partition = null, long? FromOffset = null, DateTimeOffset? FromTime = null, DateTimeOffset? ToTime = null, int? Rate = null, bool DryRun = false);

/// <summary>The counts of a replay.</summary>
internal sealed record ReplaySummary(int Delivered, int FailedAgain, int OutsideTimeRange, int Listed);

/// <summary>
/// <c>kcp dlq replay</c>: reads a route's dead-letter topic and delivers its messages to the route's endpoint with the
/// route's format and retry rules, as the original message (topic, partition, offset, key, value, record headers
/// from the <c>kcp.dlq.*</c> headers) plus <c>X-Kafka-Replay: true</c>. Runs in its own consumer group
/// <c>{group}.dlq-replay</c> (committing each message's dead-letter offset once it is done, so a replay that is
/// stopped goes on where it stopped), never in the live group. A message that fails again after the route's
/// <c>retry_nums</c> stays in the dead-letter topic (it is not written again); its failure is recorded in
/// <c>{state_dir}/dlq-replay/skipped.jsonl</c>. The range ends at each partition's end as it was when the replay started.
/// </summary>
/// <remarks>
/// <c>--from-time</c> starts at the offset the cluster gives for that time; when the cluster answers none (the
/// embedded mock cluster always does), the replay starts at the beginning of the partition. Either way, every message
/// is also checked against the time range by its own timestamp (the time it was dead-lettered), so the range is exact.
/// </remarks>
internal sealed class DeadLetterReplay
{
    private readonly KcpConfig _config;
    private readonly RouteDefinition _route;
    private readonly Action<string> _progress;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public DeadLetterReplay(KcpConfig config, RouteDefinition route, Action<string> progress, ILogger logger, TimeProvider time)
    {
        if (!route.DeadLetter.Enabled)
        {
            throw new ArgumentException($"route {route.Name} has no dead_letter_topic", nameof(route));
        }

        _config = config;
        _route = route;
        _progress = progress;
        _logger = logger;
        _time = time;
    }

    /// <summary>The replay's own consumer group.</summary>
    public static string GroupOf(RouteDefinition route) => route.Group + ".dlq-replay";

    public async Task<ReplaySummary> RunAsync(ReplayRange range, CancellationToken stop)
    {
        var topic = _route.DeadLetter.Topic!;
        var cluster = _config.Clusters[_route.DeadLetter.Cluster ?? _route.Cluster];
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = GroupOf(_route),
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        foreach (var (key, value) in cluster.ConsumerConf)
        {
            consumerConfig.Set(key, value);
        }

        consumerConfig.GroupId = GroupOf(_route);
        consumerConfig.EnableAutoCommit = false;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(consumerConfig).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        var timeout = TimeSpan.FromSeconds(10);
        var partitions = PartitionsOf(cluster, topic, range.Partition, timeout);
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), timeout));
        var starts = StartOffsets(consumer, topic, partitions, ends, range, timeout);
        var pending = partitions.Where(p => starts[p] < ends[p].High.Value).ToHashSet();
        var total = pending.Sum(p => ends[p].High.Value - starts[p]);
        _progress(string.Create(CultureInfo.InvariantCulture,
            $"dlq replay of route {_route.Name}: topic {topic}, group {GroupOf(_route)}, {total} message(s) in range: {string.Join(", ", partitions.Select(p => $"partition {p} offsets {starts[p]}..{ends[p].High.Value - 1}"))}{(range.DryRun ? " (dry run)" : "")}"));
        if (pending.Count == 0)
        {
            return new ReplaySummary(0, 0, 0, 0);
        }

        var replayRoute = _route with
        {
            Retry = _route.Retry with { CanSkip = true },
            DeadLetter = new DeadLetterSettings(),
            Delivery = _route.Delivery with { MaxRequestsPerSecond = range.Rate ?? _route.Delivery.MaxRequestsPerSecond, AdaptiveConcurrency = false, Limit = null },
        };
        using var metrics = new ProxyMetrics(_time);
        using var http = new HttpDeliverer(replayRoute, _time);
        using var failedLog = new SkipLog(Path.Combine(_config.StateDir, "dlq-replay"), _logger, _time);
        var deliverer = new MessageDeliverer(replayRoute, http, failedLog, new ManualSkipSignal(_time, NullLoggerFactory.Instance), metrics, _logger, _time);

        consumer.Assign(pending.Select(p => new TopicPartitionOffset(topic, p, starts[p])));
        int delivered = 0, failed = 0, outside = 0, listed = 0, seen = 0;
        var lastProgress = _time.GetTimestamp();
        while (pending.Count > 0)
        {
            stop.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result?.Message is null || !pending.Contains(result.Partition.Value))
            {
                // A partition whose last offsets hold no message (control records, a compacted tail) ends by position.
                pending.RemoveWhere(p => consumer.Position(new TopicPartition(topic, p)) is { Value: >= 0 } at && at.Value >= ends[p].High.Value);
                continue;
            }

            var partition = result.Partition.Value;
            seen++;
            var at = result.Message.Timestamp.UnixTimestampMs;
            if ((range.FromTime is { } from && at < from.ToUnixTimeMilliseconds()) || (range.ToTime is { } to && at > to.ToUnixTimeMilliseconds()))
            {
                outside++;
            }
            else if (range.DryRun)
            {
                listed++;
                _progress(Describe(result));
            }
            else
            {
                var disposition = await deliverer.DeliverAsync(Original(result), stop).ConfigureAwait(false);
                if (disposition == MessageDisposition.Abandoned)
                {
                    stop.ThrowIfCancellationRequested();
                }

                if (disposition == MessageDisposition.Delivered)
                {
                    delivered++;
                }
                else
                {
                    failed++;
                    _progress(string.Create(CultureInfo.InvariantCulture, $"  partition {partition} offset {result.Offset.Value}: failed again, stays in the dead-letter topic"));
                }
            }

            if (!range.DryRun)
            {
                consumer.Commit([new TopicPartitionOffset(topic, partition, result.Offset.Value + 1)]);
            }

            if (result.Offset.Value + 1 >= ends[partition].High.Value)
            {
                pending.Remove(partition);
            }

            if (_time.GetElapsedTime(lastProgress) >= TimeSpan.FromSeconds(1))
            {
                lastProgress = _time.GetTimestamp();
                _progress(string.Create(CultureInfo.InvariantCulture, $"  {seen}/{total}: {delivered} delivered, {failed} failed again, {outside} outside the time range"));
            }
        }

        var summary = new ReplaySummary(delivered, failed, outside, listed);
        _progress(range.DryRun
            ? string.Create(CultureInfo.InvariantCulture, $"dry run: {listed} message(s) would be replayed, {outside} outside the time range; nothing delivered or committed")
            : string.Create(CultureInfo.InvariantCulture, $"done: {delivered} delivered, {failed} failed again (still in {topic}), {outside} outside the time range"));
        return summary;
    }

    private static List<int> PartitionsOf(ClusterDefinition cluster, string topic, int? only, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).SetLogHandler((_, _) => { }).Build();
        var metadata = admin.GetMetadata(topic, timeout).Topics.SingleOrDefault(t => t.Topic == topic);
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            throw new InvalidOperationException($"dead-letter topic {topic} not found on {cluster.Name}: {metadata?.Error.Reason ?? "no metadata"}");
        }

        var all = metadata.Partitions.Select(p => p.PartitionId).Order().ToList();
        if (only is { } partition)
        {
            return all.Contains(partition)
                ? [partition]
                : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--partition {partition}: dead-letter topic {topic} has partitions 0..{all.Count - 1}"));
        }

        return all;
    }

    private static Dictionary<int, long> StartOffsets(IConsumer<byte[]?, byte[]?> consumer, string topic, List<int> partitions, Dictionary<int, WatermarkOffsets> ends, ReplayRange range, TimeSpan timeout)
    {
        var starts = new Dictionary<int, long>();
        if (range.FromOffset is { } fromOffset)
        {
            foreach (var p in partitions)
            {
                starts[p] = Math.Clamp(fromOffset, ends[p].Low.Value, ends[p].High.Value);
            }

            return starts;
        }

        if (range.FromTime is { } fromTime)
        {
            var found = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(topic, p, new Timestamp(fromTime))), timeout);
            foreach (var p in partitions)
            {
                var offset = found.SingleOrDefault(f => f.Partition.Value == p)?.Offset.Value ?? -1;
                // "None" (-1) means no message at or after the time, or a cluster that cannot tell: start at the beginning.
                starts[p] = offset >= 0 ? Math.Clamp(offset, ends[p].Low.Value, ends[p].High.Value) : ends[p].Low.Value;
            }

            return starts;
        }

        var committed = consumer.Committed(partitions.Select(p => new TopicPartition(topic, p)), timeout);
        foreach (var p in partitions)
        {
            var offset = committed.SingleOrDefault(c => c.Partition.Value == p)?.Offset.Value ?? -1;
            starts[p] = offset >= 0 ? Math.Clamp(offset, ends[p].Low.Value, ends[p].High.Value) : ends[p].Low.Value;
        }

        return starts;
    }

    /// <summary>The original message, as the route's endpoint saw it, from a dead-letter record.</summary>
    internal static KafkaRecord Original(ConsumeResult<byte[]?, byte[]?> result)
    {
        var headers = new List<KafkaHeader>();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in result.Message.Headers ?? [])
        {
            var value = header.GetValueBytes();
            if (header.Key.StartsWith("kcp.dlq.", StringComparison.Ordinal))
            {
                meta[header.Key] = value is null ? "" : Encoding.UTF8.GetString(value);
            }
            else
            {
                headers.Add(new KafkaHeader(header.Key, value));
            }
        }

        static long Number(Dictionary<string, string> meta, string key, long fallback) =>
            meta.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : fallback;
        var topic = meta.TryGetValue("kcp.dlq.topic", out var t) && t.Length > 0 ? t : result.Topic;
        return new KafkaRecord(topic, (int)Number(meta, "kcp.dlq.partition", result.Partition.Value), Number(meta, "kcp.dlq.offset", result.Offset.Value),
            Number(meta, "kcp.dlq.timestamp", result.Message.Timestamp.UnixTimestampMs), result.Message.Key, result.Message.Value, headers)
        {
            Replay = true,
        };
    }

    private static string Describe(ConsumeResult<byte[]?, byte[]?> result)
    {
        var original = Original(result);
        string Meta(string key) => result.Message.Headers?.TryGetLastBytes("kcp.dlq." + key, out var v) == true && v is not null ? LogText.Escape(Encoding.UTF8.GetString(v)) : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"  partition {result.Partition.Value} offset {result.Offset.Value}: {original.Topic}/{original.Partition}@{original.Offset}, kind {Meta("kind")}, attempts {Meta("attempts")}, last failure: {Meta("last_failure")}");
    }
}
