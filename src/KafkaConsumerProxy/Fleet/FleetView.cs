namespace KafkaConsumerProxy.Fleet;

/// <summary>An instance of the fleet as this one sees it.</summary>
/// <param name="State">alive, gone (silent for three heartbeats) or left (stopped cleanly).</param>
/// <param name="LastSeenSecondsAgo">Since its latest heartbeat was read here (this instance's clock, not the sender's).</param>
internal sealed record InstanceView(string Instance, string Host, int Pid, DateTimeOffset Started, string Version, string State, double LastSeenSecondsAgo, int Partitions);

/// <summary>A partition another instance owns, as its latest heartbeat shows it.</summary>
internal sealed record RemotePartition(string Instance, FleetPartition Partition);

/// <summary>
/// The heartbeats read from the control topics: every instance, alive while its heartbeats keep coming (measured by when
/// they are read here, so a skewed clock elsewhere changes nothing), gone after <c>FleetSettings.GoneAfter</c> of
/// silence, left when it said so at a clean stop. Thread-safe.
/// </summary>
internal sealed class FleetView(TimeSpan goneAfter, TimeSpan heartbeat, TimeProvider time)
{
    // A gone instance stays shown this long, then is forgotten.
    private static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(15);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (InstanceStatus Status, long Seen)> _instances = new(StringComparer.Ordinal);

    /// <summary>Records a heartbeat; one read while catching up is taken as a little old (it may be from a dead instance).</summary>
    public void Update(InstanceStatus status, bool catchingUp)
    {
        var seen = time.GetTimestamp();
        if (catchingUp)
        {
            // Gone after one more heartbeat interval unless it keeps beating.
            seen -= (long)((goneAfter - 2 * heartbeat).TotalSeconds * time.TimestampFrequency);
        }

        lock (_gate)
        {
            _instances[status.Id] = (status, seen);
            foreach (var old in _instances.Where(i => Elapsed(i.Value.Seen) > ForgetAfter).Select(i => i.Key).ToList())
                _instances.Remove(old);
        }
    }

    public void Forget(string instance)
    {
        lock (_gate)
            _instances.Remove(instance);
    }

    /// <summary>Every instance that runs <paramref name="route"/> of <paramref name="group"/> (or any route, when null), but <paramref name="self"/>.</summary>
    public IReadOnlyList<InstanceView> Instances(string? route, string? group, string self)
    {
        lock (_gate)
        {
            return [.. _instances.Values
                .Where(i => i.Status.Id != self && (route is null || i.Status.Routes.Any(r => r.Route == route && r.Group == group)))
                .OrderBy(i => i.Status.Id, StringComparer.Ordinal)
                .Select(i => new InstanceView(i.Status.Id, i.Status.Host, i.Status.Pid, i.Status.Started, i.Status.Version, StateOf(i.Status, i.Seen),
                    Math.Round(Elapsed(i.Seen).TotalSeconds, 1),
                    i.Status.Routes.Where(r => route is null || (r.Route == route && r.Group == group)).Sum(r => r.Partitions.Count)))];
        }
    }

    /// <summary>The partitions of <paramref name="route"/> of <paramref name="group"/> that alive instances but <paramref name="self"/> own: per partition, the latest heartbeat's.</summary>
    public IReadOnlyList<RemotePartition> Partitions(string route, string group, string self)
    {
        lock (_gate)
        {
            return [.. _instances.Values
                .Where(i => i.Status.Id != self && StateOf(i.Status, i.Seen) == "alive")
                .OrderByDescending(i => i.Seen)
                .SelectMany(i => i.Status.Routes.Where(r => r.Route == route && r.Group == group).SelectMany(r => r.Partitions.Select(p => new RemotePartition(i.Status.Id, p))))
                .DistinctBy(p => p.Partition.Partition)
                .OrderBy(p => p.Partition.Partition)];
        }
    }

    private string StateOf(InstanceStatus status, long seen) => status.Left ? "left" : Elapsed(seen) > goneAfter ? "gone" : "alive";

    private TimeSpan Elapsed(long seen) => time.GetElapsedTime(seen);
}
