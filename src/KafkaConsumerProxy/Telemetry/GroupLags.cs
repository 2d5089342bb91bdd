using System.Collections.Concurrent;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>One partition of a route's topic as the broker last told it: the group's committed offset and the log's bounds.</summary>
/// <param name="Committed">The group's committed offset; -1 when it has none.</param>
/// <param name="Lag">What the group still has to finish (<c>PartitionOffsets.Lag</c> of these offsets).</param>
internal sealed record GroupPartitionLag(int Partition, long LogStart, long LogEnd, long Committed, long Lag);

/// <summary>Every partition of a route's topic, read from the broker at <paramref name="ReadAt"/>.</summary>
internal sealed record GroupLagReading(string Topic, string Group, DateTimeOffset ReadAt, IReadOnlyList<GroupPartitionLag> Partitions)
{
    public long Total => Partitions.Sum(p => p.Lag);

    public GroupPartitionLag? Of(int partition) => Partitions.FirstOrDefault(p => p.Partition == partition);
}

/// <summary>
/// The lag of each route's group as read from the broker (<c>Offsets/GroupLagReader</c>), for every partition of the
/// topic, owned by this process, by another or by none, paused or not: the source of <c>kcp.consumer.lag</c>, the
/// API's and <c>kcp status</c>'s lag. A route without a reading yet falls back to its members' own views. Thread-safe.
/// </summary>
internal sealed class GroupLags
{
    private readonly ConcurrentDictionary<string, GroupLagReading> _readings = new(StringComparer.Ordinal);

    /// <summary>The latest reading of <paramref name="route"/>; null before the first one succeeded.</summary>
    public GroupLagReading? Of(string route) => _readings.TryGetValue(route, out var reading) ? reading : null;

    /// <summary>Every route's latest reading.</summary>
    public IReadOnlyList<(string Route, GroupLagReading Reading)> All() => [.. _readings.Select(kv => (kv.Key, kv.Value)).OrderBy(r => r.Key, StringComparer.Ordinal)];

    internal void Publish(string route, GroupLagReading reading) => _readings[route] = reading;

    /// <summary>Drops <paramref name="route"/>'s reading (it was removed, or its topic or group changed).</summary>
    internal void Forget(string route) => _readings.TryRemove(route, out _);
}
