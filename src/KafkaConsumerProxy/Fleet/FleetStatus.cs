using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Fleet;

/// <summary>What this instance's heartbeat says of its routes: state, rate, and every partition it owns with its offsets, lag and failing messages.</summary>
internal static class FleetStatus
{
    /// <summary>The routes of <paramref name="cluster"/> as this instance runs them now.</summary>
    public static IReadOnlyList<RouteHeartbeat> Routes(RouteRegistry registry, string cluster)
    {
        var observations = registry.Metrics.Observations;
        return [.. registry.List().Where(s => s.Cluster == cluster).Select(s =>
        {
            var failing = registry.Failing.All(s.Route);
            var broker = observations.GroupLags.Of(s.Route);
            var partitions = observations.Partitions(s.Route).Select(p => new FleetPartition(p.Topic, p.Partition, p.Member, p.NextOffset, p.CommittedOffset, p.HighWatermark,
                broker?.Of(p.Partition)?.Lag ?? p.Lag, p.InFlight, p.OldestUnfinishedOffset, p.OldestUnfinishedSince, p.Uncommitted, p.WaitingForCommit,
                [.. failing.Where(f => f.Partition == p.Partition)])).ToList();
            return new RouteHeartbeat(s.Route, s.Group, s.Topic, s.State.ToString().ToLowerInvariant(), Math.Round(observations.DeliveredPerSecond(s.Route), 3), partitions);
        })];
    }
}
