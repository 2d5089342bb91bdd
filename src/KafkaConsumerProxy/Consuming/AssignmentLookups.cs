using Confluent.Kafka;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What a route member asks the cluster when partitions are assigned, for <see cref="StartPositionPolicy"/>: the
/// group's committed offsets, the cluster's id and each partition's log bounds. A question the cluster does not answer
/// is logged and answered "unknown"; the assignment goes on.
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
}
