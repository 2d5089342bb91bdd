using System.Collections.Concurrent;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// The per-message series of one route, counted by kcp itself and read by observable instruments when they are
/// exported (<see cref="ProxyMetrics"/>). An instrument call per message costs the exporter a lookup of its attribute
/// set (five or six attributes hashed and compared every time); an <see cref="Interlocked"/> add costs none of that
/// (docs/PERFORMANCE-LAB.md, "Fix 7"). The attribute arrays are built once, here, also for the histograms that are still
/// recorded per message.
/// </summary>
internal sealed class RouteSeries
{
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionSeries> _partitions = new();
    private readonly Func<(string Topic, int Partition), PartitionSeries> _newPartition;

    // Messages the endpoint accepted, requests in flight, and requests by outcome (ProxyMetrics.Outcomes' order; any other
    // label is counted in _otherAttempts).
    private long _delivered;
    private long _inFlight;
    private readonly long[] _attempts = new long[ProxyMetrics.Outcomes.Length];
    private readonly ConcurrentDictionary<string, StrongBoxLong> _otherAttempts = new(StringComparer.Ordinal);

    /// <param name="tags">The route's attributes, as every series of the route carries them.</param>
    /// <param name="partitionTags">The attributes of one partition's series.</param>
    public RouteSeries(KeyValuePair<string, object?>[] tags, Func<string, int, KeyValuePair<string, object?>[]> partitionTags)
    {
        Tags = tags;
        AttemptTags = [.. ProxyMetrics.Outcomes.Select(outcome => (KeyValuePair<string, object?>[])[.. tags, new("outcome", outcome)])];
        _newPartition = key => new PartitionSeries(partitionTags(key.Topic, key.Partition));
    }

    public KeyValuePair<string, object?>[] Tags { get; }

    /// <summary>The route's attributes with each outcome of <see cref="ProxyMetrics.Outcomes"/>, in its order.</summary>
    public KeyValuePair<string, object?>[][] AttemptTags { get; }

    public long Delivered => Volatile.Read(ref _delivered);

    public long InFlight => Volatile.Read(ref _inFlight);

    public void AddDelivered() => Interlocked.Increment(ref _delivered);

    public void AddInFlight(long change) => Interlocked.Add(ref _inFlight, change);

    public void AddAttempt(string outcome)
    {
        var index = Array.IndexOf(ProxyMetrics.Outcomes, outcome);
        if (index >= 0)
            Interlocked.Increment(ref _attempts[index]);
        else
            Interlocked.Increment(ref _otherAttempts.GetOrAdd(outcome, _ => new StrongBoxLong()).Value);
    }

    /// <summary>Requests by outcome: every outcome of <see cref="ProxyMetrics.Outcomes"/> (zero or not), then any other seen.</summary>
    public IEnumerable<(long Count, KeyValuePair<string, object?>[] Tags)> Attempts()
    {
        for (var i = 0; i < _attempts.Length; i++)
            yield return (Volatile.Read(ref _attempts[i]), AttemptTags[i]);
        foreach (var (outcome, count) in _otherAttempts)
            yield return (Volatile.Read(ref count.Value), [.. Tags, new("outcome", outcome)]);
    }

    /// <summary>The series of one partition of the route, made on first use.</summary>
    public PartitionSeries Partition(string topic, int partition) =>
        _partitions.TryGetValue((topic, partition), out var series) ? series : _partitions.GetOrAdd((topic, partition), _newPartition);

    public IEnumerable<PartitionSeries> Partitions => _partitions.Values;

    private sealed class StrongBoxLong
    {
        public long Value;
    }
}

/// <summary>The per-message series of one partition of a route: messages consumed, and the attributes of its process durations.</summary>
internal sealed class PartitionSeries(KeyValuePair<string, object?>[] tags)
{
    private long _consumed;

    public KeyValuePair<string, object?>[] Tags { get; } = tags;

    /// <summary>The attributes of a skipped message's process duration (<c>error.type</c> <c>skipped</c>).</summary>
    public KeyValuePair<string, object?>[] SkippedTags { get; } = [.. tags, new("error.type", "skipped")];

    public long Consumed => Volatile.Read(ref _consumed);

    public void AddConsumed() => Interlocked.Increment(ref _consumed);
}
