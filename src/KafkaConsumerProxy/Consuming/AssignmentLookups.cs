using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What a route member asks when partitions are assigned, for <see cref="StartPositionPolicy"/>: the group's committed
/// offsets, the cluster's id and each partition's log bounds from the cluster, and each partition's local record. A
/// question the cluster does not answer is logged and answered "unknown"; the assignment goes on.
/// </summary>
internal static class AssignmentLookups
{
    /// <summary>How long all log bound queries of one assignment take at most (and the cluster id lookup).</summary>
    public static readonly TimeSpan LogBoundsTimeout = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan CommittedLookupTimeout = TimeSpan.FromSeconds(10);

    public static string? ClusterIdOf(MemberParts parts, IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            // From the metadata the consumer already holds once it has joined the group; null when unknown.
            return consumer.ClusterId(LogBoundsTimeout);
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(parts.Logger, parts.Route.Name, parts.Member, "could not read the cluster id: " + ex.Error.Reason);
            return null;
        }
    }

    /// <summary>
    /// Each partition's low and high watermark; bounds null with the reason when unknown. All queries share one
    /// <see cref="LogBoundsTimeout"/>, so an unreachable cluster holds the assignment up for that long, not that long per
    /// partition.
    /// </summary>
    public static Dictionary<int, (LogBounds? Bounds, string? Error)> LogBoundsOf(MemberParts parts, IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        var started = parts.Time.GetTimestamp();
        var bounds = new Dictionary<int, (LogBounds? Bounds, string? Error)>(partitions.Count);
        foreach (var partition in partitions)
        {
            var left = LogBoundsTimeout - parts.Time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                bounds[partition.Partition.Value] = (null, $"not queried: the {LogBoundsTimeout.TotalSeconds:F0} s for reading the log bounds at assignment ran out");
                continue;
            }

            try
            {
                var marks = consumer.QueryWatermarkOffsets(partition, left);
                bounds[partition.Partition.Value] = marks.Low.IsSpecial || marks.High.IsSpecial
                    ? (null, $"the cluster answered {marks.Low}..{marks.High}")
                    : (new LogBounds(marks.Low.Value, marks.High.Value), null);
            }
            catch (KafkaException ex)
            {
                bounds[partition.Partition.Value] = (null, ex.Error.Reason);
            }
        }

        return bounds;
    }

    public static Dictionary<int, Offset> CommittedOffsets(MemberParts parts, IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        try
        {
            return consumer.Committed(partitions, CommittedLookupTimeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
        }
        catch (KafkaException ex)
        {
            // Without the committed offsets the anomaly checks are skipped; the repeat filter still applies.
            Log.KafkaError(parts.Logger, parts.Route.Name, parts.Member, "could not read committed offsets: " + ex.Error.Reason);
            return [];
        }
    }

    /// <summary>
    /// A partition's local record; null in modes 1 and 2 when it cannot be created (full disk): the record is an extra
    /// there, the commits in the cluster carry the position, so the partition is delivered without it (until assigned
    /// again) rather than the route restarting. In mode 3 the failure stops the assignment: no message may count as done
    /// without its record.
    /// </summary>
    public static OffsetRecordFile? OpenRecord(MemberParts parts, LocalOffsetStore store, PartitionKey key, string? clusterId)
    {
        try
        {
            return store.Open(key, clusterId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && parts.Route.Offsets.MessageDeliveryGuarantees != DeliveryGuarantee.NoRepeatOnOneMachine)
        {
            Log.LocalRecordUnavailable(parts.Logger, parts.Route.Name, key.ToString(), ex.Message);
            return null;
        }
    }
}
