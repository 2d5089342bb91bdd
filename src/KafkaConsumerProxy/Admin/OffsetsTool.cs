using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Admin;

/// <summary>One partition as <c>kcp offsets show</c> reports it.</summary>
/// <param name="LocalClusterId">The cluster id stored in the local record; null when there is no record or it has none.</param>
/// <param name="LocalTrust">Whether the next run trusts the local record (it does not trust one of another cluster or outside the log).</param>
internal sealed record PartitionOffsetsRow(int Partition, long? Committed, long? LocalLastDone, long LogStart, long LogEnd, string? LocalClusterId = null, RecordTrust LocalTrust = RecordTrust.None)
{
    /// <summary>Messages not yet committed (<see cref="PartitionOffsets.Lag"/>, as the API and the metrics count it).</summary>
    public long Lag => PartitionOffsets.Lag(LogStart, LogEnd, Committed ?? -1);

    /// <summary>The committed offset lies outside the log [log start, log end]: the next run starts where auto.offset.reset says.</summary>
    public bool CommittedOutsideLog => Committed is { } c && (c < LogStart || c > LogEnd);
}

/// <summary>Where <c>kcp offsets set</c> moves each partition.</summary>
internal abstract record OffsetTarget
{
    public sealed record Explicit(IReadOnlyDictionary<int, long> Offsets) : OffsetTarget;

    public sealed record Earliest : OffsetTarget;

    public sealed record Latest : OffsetTarget;

    public sealed record AtTime(DateTimeOffset Time) : OffsetTarget;
}

/// <summary><c>kcp offsets set</c> was asked for offsets outside the partitions' logs, without <c>--force</c>; nothing was changed.</summary>
internal sealed class OffsetOutsideLogException(string message) : ArgumentException(message);

/// <summary>
/// The offsets tool: shows a route's committed offsets, local records, log ends and lag, and sets a group's committed
/// offsets (the previous service's offset-reset script), keeping the local offset store in line so a deliberate replay
/// is not filtered as a repeat.
/// </summary>
internal sealed class OffsetsTool : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly KcpConfig _config;
    private readonly RouteDefinition _route;
    private readonly ClusterDefinition _cluster;
    private readonly IConsumer<byte[]?, byte[]?> _reader;
    private readonly TimeProvider _time;
    private string? _clusterId;

    /// <param name="time">The clock the local records' write times are read from.</param>
    public OffsetsTool(KcpConfig config, string routeName, TimeProvider time)
    {
        _config = config;
        _time = time;
        _route = config.Routes.FirstOrDefault(r => r.Name == routeName)
            ?? throw new ArgumentException($"no route named '{routeName}' in {config.RoutesDir}; routes: {string.Join(", ", config.Routes.Select(r => r.Name))}");
        _cluster = config.Clusters[_route.Cluster];
        _reader = Quiet(new ConsumerBuilder<byte[]?, byte[]?>(Settings())).Build();
    }

    public RouteDefinition Route => _route;

    /// <summary>The id of the route's cluster (from its metadata); null when it does not tell.</summary>
    public string? ClusterId => _clusterId ??= _reader.ClusterId(Timeout);

    /// <summary>Per partition: committed offset, local record (with its cluster id, and whether the next run trusts it), log start and end.</summary>
    public async Task<IReadOnlyList<PartitionOffsetsRow>> ShowAsync()
    {
        var partitions = Partitions();
        var committed = _reader.Committed(partitions, Timeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
        var store = new LocalOffsetStore(_config.StateDir, NullLogger.Instance, _time);
        var clusterId = ClusterId;
        return partitions.Select(p =>
        {
            var marks = _reader.QueryWatermarkOffsets(p, Timeout);
            var c = committed.GetValueOrDefault(p.Partition.Value, Offset.Unset);
            var local = store.Read(Key(p.Partition.Value));
            var trust = StartPositionPolicy.Judge(local, new LogBounds(marks.Low.Value, marks.High.Value), clusterId);
            return new PartitionOffsetsRow(p.Partition.Value, c.IsSpecial ? null : c.Value, local?.LastDone, marks.Low.Value, marks.High.Value, local?.ClusterId, trust);
        }).ToList();
    }

    /// <summary>
    /// Sets the group's committed offsets and the local records. Refused while the group has active members, since
    /// they would overwrite the new offsets with their own commits; and refused for an offset outside its partition's
    /// log ([low watermark, high watermark]) unless <paramref name="force"/>, in which case <paramref name="notice"/>
    /// is told, before anything changes, what the next run will do with each such offset.
    /// </summary>
    /// <exception cref="OffsetOutsideLogException">An offset lies outside its partition's log and <paramref name="force"/> is false.</exception>
    public async Task<IReadOnlyList<TopicPartitionOffset>> SetAsync(OffsetTarget target, bool force = false, Action<string>? notice = null)
    {
        var offsets = Resolve(target);
        var outside = new List<(int Partition, long Offset, long Low, long High)>();
        foreach (var offset in offsets)
        {
            var marks = _reader.QueryWatermarkOffsets(offset.TopicPartition, Timeout);
            if (offset.Offset.Value < marks.Low.Value || offset.Offset.Value > marks.High.Value)
            {
                outside.Add((offset.Partition.Value, offset.Offset.Value, marks.Low.Value, marks.High.Value));
            }
        }

        if (outside.Count > 0 && !force)
        {
            throw new OffsetOutsideLogException(string.Join("\n", outside.Select(o =>
                string.Create(CultureInfo.InvariantCulture, $"partition {o.Partition}: offset {o.Offset} is outside the partition's log (low watermark {o.Low}, high watermark {o.High}: an offset from {o.Low} to {o.High} can be set)")))
                + "\nnothing was changed; give --force to set it anyway, which means: " + string.Join("; ", outside.Select(o => Consequence(o.Partition, o.Offset, o.Low, o.High))));
        }

        foreach (var o in outside)
        {
            notice?.Invoke("--force: " + Consequence(o.Partition, o.Offset, o.Low, o.High));
        }

        await EnsureGroupInactiveAsync().ConfigureAwait(false);
        CommitAsSoleMember(offsets, Partitions().Count);
        var store = new LocalOffsetStore(_config.StateDir, NullLogger.Instance, _time);
        var clusterId = ClusterId;
        foreach (var offset in offsets)
        {
            store.WriteNow(Key(offset.Partition.Value), offset.Offset.Value, clusterId);
        }

        return offsets;
    }

    /// <summary>What the next run does with a committed offset and local record outside the partition's log.</summary>
    private string Consequence(int partition, long offset, long low, long high)
    {
        var where = offset > high ? $"past the log end {high}" : $"before the log start {low}";
        var reset = Settings().FirstOrDefault(kv => kv.Key == "auto.offset.reset").Value ?? "latest";
        var start = reset switch
        {
            "earliest" or "smallest" or "beginning" => $"starts at the log start ({low} now): every message still in the partition is delivered again",
            "latest" or "largest" or "end" => "starts at the log end as it is then: messages produced before that run are passed over",
            _ => "does not start the partition: the consumer reports an offset-out-of-range error",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"partition {partition}: the group's committed offset {offset} lies {where}, so the next kcp run finds it out of range and {start} (auto.offset.reset={reset}); this machine's local record is set to it too, lies outside the log and is ignored by that run (nothing is filtered as a repeat; new progress replaces it)");
    }

    private async Task EnsureGroupInactiveAsync()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(Settings())).SetLogHandler((_, _) => { }).Build();
        ConsumerGroupDescription group;
        try
        {
            var description = await admin.DescribeConsumerGroupsAsync([_route.Group], new DescribeConsumerGroupsOptions { RequestTimeout = Timeout }).ConfigureAwait(false);
            group = description.ConsumerGroupDescriptions.Single();
        }
        catch (DescribeConsumerGroupsException ex) when (ex.Results.ConsumerGroupDescriptions.Any(d => d.Error.Code == ErrorCode.Local_UnsupportedFeature))
        {
            // A cluster without DescribeGroups (such as the embedded one): joining the group tells instead, see
            // CommitAsSoleMember.
            return;
        }

        if (group.Members.Count > 0)
        {
            throw new InvalidOperationException(
                $"group '{_route.Group}' has {group.Members.Count} active member(s) ({string.Join(", ", group.Members.Select(m => $"{m.ClientId}@{m.Host}"))}); stop every kcp running route '{_route.Name}' first");
        }
    }

    private List<TopicPartitionOffset> Resolve(OffsetTarget target)
    {
        var partitions = Partitions();
        switch (target)
        {
            case OffsetTarget.Explicit(var offsets):
                var unknown = offsets.Keys.Where(p => partitions.All(tp => tp.Partition.Value != p)).ToList();
                if (unknown.Count > 0)
                {
                    throw new ArgumentException($"topic '{_route.Topic}' has no partition {string.Join(", ", unknown)} (it has 0..{partitions.Count - 1})");
                }

                return offsets.Select(o => new TopicPartitionOffset(_route.Topic, o.Key, o.Value)).ToList();
            case OffsetTarget.Earliest:
                return partitions.Select(p => new TopicPartitionOffset(p, _reader.QueryWatermarkOffsets(p, Timeout).Low)).ToList();
            case OffsetTarget.Latest:
                return partitions.Select(p => new TopicPartitionOffset(p, _reader.QueryWatermarkOffsets(p, Timeout).High)).ToList();
            case OffsetTarget.AtTime(var time):
                var found = _reader.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(time))), Timeout);
                // No message at or after the time: the partition's end.
                return found.Select(f => f.Offset.IsSpecial
                    ? new TopicPartitionOffset(f.TopicPartition, _reader.QueryWatermarkOffsets(f.TopicPartition, Timeout).High)
                    : f).ToList();
            default:
                throw new ArgumentOutOfRangeException(nameof(target));
        }
    }

    /// <summary>
    /// Commits by joining the (empty) group as its only member: the commit then carries a valid generation, which
    /// every broker accepts, and the member leaves right after. Being assigned fewer than all partitions means other
    /// members are active, and nothing is committed.
    /// </summary>
    private void CommitAsSoleMember(List<TopicPartitionOffset> offsets, int partitionCount)
    {
        int? assignedCount = null;
        using var member = Quiet(new ConsumerBuilder<byte[]?, byte[]?>(Settings()))
            .SetPartitionsAssignedHandler((_, partitions) => assignedCount = (assignedCount ?? 0) + partitions.Count)
            .Build();
        member.Subscribe(_route.Topic);
        // On the system clock: it bounds a wait for the real cluster, as the Kafka client's own timeouts do.
        var started = TimeProvider.System.GetTimestamp();
        while (assignedCount is null && TimeProvider.System.GetElapsedTime(started) < Timeout)
        {
            member.Consume(TimeSpan.FromMilliseconds(100));
        }

        try
        {
            if (assignedCount is null)
            {
                // A cluster without DescribeGroups gets here too when members are active and slow to rejoin.
                throw new TimeoutException(
                    $"could not join group '{_route.Group}' within {Timeout.TotalSeconds:F0} s to commit offsets; nothing was changed. The cluster may be unreachable, or the group has active members that hold up the rebalance: stop every kcp running route '{_route.Name}' first");
            }

            if (assignedCount < partitionCount)
            {
                throw new InvalidOperationException(
                    $"group '{_route.Group}' has other active member(s) (this tool was assigned {assignedCount} of {partitionCount} partitions); stop every kcp running route '{_route.Name}' first");
            }

            member.Commit(offsets);
        }
        finally
        {
            member.Close();
        }
    }

    private List<TopicPartition> Partitions()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(Settings())).SetLogHandler((_, _) => { }).Build();
        var topic = admin.GetMetadata(_route.Topic, Timeout).Topics.Single();
        if (topic.Error.IsError)
        {
            throw new InvalidOperationException($"topic '{_route.Topic}': {topic.Error.Reason}");
        }

        return topic.Partitions.Select(p => new TopicPartition(_route.Topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();
    }

    private ConsumerConfig Settings() => ConsumerSettings.Create(_route, _cluster, member: 0);

    private PartitionKey Key(int partition) => new(_cluster.Name, _route.Group, _route.Topic, partition);

    private static ConsumerBuilder<byte[]?, byte[]?> Quiet(ConsumerBuilder<byte[]?, byte[]?> builder) =>
        builder.SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { });

    public void Dispose()
    {
        _reader.Close();
        _reader.Dispose();
    }
}
