using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Delivery;

/// <summary>A replay that cannot start or go on, with the reason in one line.</summary>
internal sealed class ReplayException(string message) : Exception(message);

/// <summary>
/// A range replay: reads a range of a route's topic with a consumer of its own and delivers each message again with the
/// route's format, auth, TLS, signing and response rules (<see cref="ReplayRequest.Apply"/>, the route's own
/// <see cref="HttpDeliverer"/> and <see cref="MessageDeliverer"/>), to the route's endpoint or another URL, one message
/// at a time in offset order per partition, each request marked <c>Kcp-Replay: {id}</c> beside the usual
/// <c>X-Kafka-Topic</c>/<c>-Partition</c>/<c>-Offset</c>. The live route is never touched: the replay's consumer is
/// assigned its partitions (never subscribed), commits nothing, and its group id (<see cref="GroupOf"/>) is not the
/// route's, so the live group's committed offsets and members are as they were.
/// </summary>
/// <remarks>
/// The range is fixed when the replay starts (<see cref="Plan"/>): from <c>--from-offset</c>, or the broker's offset for
/// <c>--from-time</c>; to <c>--to-offset</c>, the broker's offset for <c>--to-time</c>, or else the partition's end as
/// it is then. When the broker answers "none" to a time lookup (no such message, or a cluster that cannot tell, such as
/// the embedded mock cluster), the range starts at the partition's beginning or ends at its end; either way every message
/// is also checked against the time range by its own timestamp, so a time range is exact.
/// </remarks>
internal sealed class RangeReplay
{
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(10);

    private readonly ClusterDefinition _cluster;
    private readonly RouteDefinition _route;
    private readonly string _stateDir;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public RangeReplay(KcpConfig config, RouteDefinition route, ILogger? logger, TimeProvider time)
    {
        _cluster = config.Clusters[route.Cluster];
        _route = route;
        _stateDir = config.StateDir;
        _logger = logger ?? NullLogger.Instance;
        _time = time;
    }

    /// <summary>The replay's consumer group id: never the route's, and never committed to.</summary>
    public static string GroupOf(RouteDefinition route, string id) => $"{route.Group}.replay-{id}";

    /// <summary>Where the messages a replay gave up on are recorded: <c>{state_dir}/replay/skipped.jsonl</c>.</summary>
    public static string FailureDirectory(string stateDir) => Path.Combine(stateDir, "replay");

    /// <summary>The URL a replay of <paramref name="route"/> sends to.</summary>
    public static string TargetOf(RouteDefinition route, ReplayRequest request)
    {
        var sent = request.Apply(route).Endpoint;
        var target = sent.Targets()[0];
        return new UriBuilder(target) { Scheme = sent.Tls.Enabled ? Uri.UriSchemeHttps : Uri.UriSchemeHttp }.Uri.ToString();
    }

    /// <summary>
    /// Fixes the range in <paramref name="progress"/> (partitions, first and end offsets) from the topic's metadata,
    /// ends and time index. Throws <see cref="ReplayException"/> when the topic or a partition is not there.
    /// </summary>
    public void Plan(ReplayProgress progress)
    {
        var request = progress.Request;
        using var consumer = NewConsumer(progress.Id);
        var partitions = PartitionsOf(request.Partitions);
        var topic = _route.Topic;
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), LookupTimeout));
        var fromTimes = request.FromTime is { } from ? OffsetsFor(consumer, partitions, from) : null;
        // The first offset after --to-time: the time index gives the first message at or after a time.
        var toTimes = request.ToTime is { } to ? OffsetsFor(consumer, partitions, to.AddMilliseconds(1)) : null;
        progress.Planned(topic, partitions.Select(p =>
        {
            var (low, high) = (ends[p].Low.Value, ends[p].High.Value);
            var start = request.FromOffset ?? (fromTimes![p] is >= 0 and var at ? at : low);
            var end = request.ToOffset is { } last ? last + 1 : toTimes is not null && toTimes[p] >= 0 ? toTimes[p] : high;
            start = Math.Clamp(start, low, high);
            end = Math.Clamp(end, start, high);
            return new ReplayPartitionStatus(p, start, end, start);
        }));
    }

    /// <summary>
    /// Delivers the planned range; ends <paramref name="progress"/> as done, cancelled (its <see cref="ReplayProgress.Cancel"/>,
    /// or <paramref name="stop"/>) or in error. Never throws for the cluster or the endpoint.
    /// </summary>
    public async Task RunAsync(ReplayProgress progress, CancellationToken stop)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop, progress.Cancel.Token);
        try
        {
            await DeliverAsync(progress, cancel.Token).ConfigureAwait(false);
            progress.End(cancel.IsCancellationRequested ? ReplayState.Cancelled : ReplayState.Done);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            progress.End(ReplayState.Cancelled);
        }
        catch (Exception ex) when (ex is KafkaException or ReplayException or IOException)
        {
            progress.End(ReplayState.Error, ex.Message.ReplaceLineEndings(" "));
        }
    }

    private async Task DeliverAsync(ReplayProgress progress, CancellationToken stop)
    {
        var request = progress.Request;
        var topic = progress.Topic;
        var ranges = progress.Snapshot().Partitions.Where(p => p.Start < p.End).ToDictionary(p => p.Partition);
        if (ranges.Count == 0)
        {
            return;
        }

        var route = request.Apply(_route);
        SkipKind? lastSkip = null;
        using var metrics = new ProxyMetrics(_time, ProxyMetrics.ReplayMeterName);
        using var http = new HttpDeliverer(route, _time, _logger);
        using var failures = request.DryRun ? null : new SkipLog(FailureDirectory(_stateDir), _logger, _time) { Written = r => lastSkip = r.Kind };
        var deliverer = failures is null ? null : new MessageDeliverer(route, http, failures, new ManualSkipSignal(_time, NullLoggerFactory.Instance), metrics, _logger, _time);
        var fromMs = request.FromTime?.ToUnixTimeMilliseconds();
        var toMs = request.ToTime?.ToUnixTimeMilliseconds();
        if (request.DryRun && fromMs is null && toMs is null)
        {
            // Nothing to read: the plan is the answer.
            return;
        }

        using var consumer = NewConsumer(progress.Id);
        consumer.Assign(ranges.Values.Select(r => new TopicPartitionOffset(topic, r.Partition, r.Start)));
        var pending = ranges.Keys.ToHashSet();
        while (pending.Count > 0)
        {
            stop.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result?.Message is null || !pending.Contains(result.Partition.Value))
            {
                foreach (var p in pending.Where(p => consumer.Position(new TopicPartition(topic, p)) is { Value: >= 0 } at && at.Value >= ranges[p].End).ToList())
                {
                    Finish(p);
                }

                continue;
            }

            var partition = result.Partition.Value;
            var offset = result.Offset.Value;
            if (offset >= ranges[partition].End)
            {
                Finish(partition);
                continue;
            }

            var at = result.Message.Timestamp.UnixTimestampMs;
            if (at < fromMs || at > toMs)
            {
                progress.OnOutside();
            }
            else if (deliverer is not null)
            {
                var record = new KafkaRecord(topic, partition, offset, at, result.Message.Key, result.Message.Value, KafkaHeader.From(result.Message.Headers)) { ReplayId = progress.Id };
                lastSkip = null;
                var disposition = await deliverer.DeliverAsync(record, stop).ConfigureAwait(false);
                if (disposition == MessageDisposition.Abandoned)
                {
                    // Only a stop abandons: this offset is where to resume.
                    stop.ThrowIfCancellationRequested();
                    throw new ReplayException(string.Create(CultureInfo.InvariantCulture, $"partition {partition} offset {offset} was abandoned"));
                }

                progress.OnSent();
                if (disposition == MessageDisposition.Delivered)
                {
                    progress.OnAccepted();
                }
                else if (lastSkip is SkipKind.Status or SkipKind.Endpoint)
                {
                    progress.OnSkipped();
                }
                else
                {
                    progress.OnFailed();
                }
            }

            progress.Handled(partition, offset);
            if (offset + 1 >= ranges[partition].End)
            {
                Finish(partition);
            }
        }

        void Finish(int partition)
        {
            progress.Exhausted(partition);
            pending.Remove(partition);
            consumer.Pause([new TopicPartition(topic, partition)]);
        }
    }

    private IConsumer<byte[]?, byte[]?> NewConsumer(string id)
    {
        var config = new ConsumerConfig();
        foreach (var (key, value) in _cluster.ConsumerConf.Where(c => c.Key is not ("group.id" or "group.instance.id")))
        {
            config.Set(key, value);
        }

        // After the cluster's settings, so none of them can make this consumer commit or join the live group.
        config.GroupId = GroupOf(_route, id);
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.EnablePartitionEof = false;
        config.BootstrapServers = _cluster.BootstrapServers;
        return new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
    }

    private List<int> PartitionsOf(IReadOnlyList<int> only)
    {
        var topic = _route.Topic;
        var adminConfig = new AdminClientConfig { BootstrapServers = _cluster.BootstrapServers };
        using var admin = new AdminClientBuilder(adminConfig).SetLogHandler((_, _) => { }).Build();
        var metadata = admin.GetMetadata(topic, LookupTimeout).Topics.SingleOrDefault(t => t.Topic == topic);
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            throw new ReplayException($"topic {topic} not found on cluster {_cluster.Name}: {metadata?.Error.Reason ?? "no metadata"}");
        }

        var all = metadata.Partitions.Select(p => p.PartitionId).Order().ToList();
        var missing = only.Where(p => !all.Contains(p)).ToList();
        if (missing.Count > 0)
        {
            throw new ReplayException(string.Create(CultureInfo.InvariantCulture, $"--partition {string.Join(", ", missing)}: topic {topic} has partitions 0..{all.Count - 1}"));
        }

        return only.Count == 0 ? all : [.. only.Distinct().Order()];
    }

    // The broker's first offset at or after `at` per partition; -1 where it answers none.
    private Dictionary<int, long> OffsetsFor(IConsumer<byte[]?, byte[]?> consumer, List<int> partitions, DateTimeOffset at)
    {
        var found = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(_route.Topic, p, new Timestamp(at))), LookupTimeout);
        return partitions.ToDictionary(p => p, p => found.SingleOrDefault(f => f.Partition.Value == p)?.Offset.Value ?? -1);
    }
}
