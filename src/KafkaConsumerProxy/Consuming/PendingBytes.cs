namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The bytes (key + value) of messages a route member has fetched and not finished, over all its partitions, bounded
/// by <c>max_pending_bytes</c>. A partition that brings the total to the bound pauses its fetching; when the total has
/// fallen to half the bound every partition paused for it resumes. The message that reaches the bound is still
/// delivered, so a single message larger than the bound goes through alone instead of blocking forever.
/// Thread-safe: the consumer thread adds, completions release.
/// </summary>
internal sealed class PendingBytes
{
    private readonly Lock _lock = new();
    private readonly HashSet<PartitionWorker> _paused = [];
    private long _total;
    private long _peak;

    public PendingBytes(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        Bound = bound;
    }

    /// <summary>The bound (<c>max_pending_bytes</c>).</summary>
    public long Bound { get; }

    /// <summary>Bytes pending now.</summary>
    public long Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>The most bytes that were pending at once.</summary>
    public long Peak
    {
        get
        {
            lock (_lock)
            {
                return _peak;
            }
        }
    }

    /// <summary>
    /// Counts a fetched message of <paramref name="worker"/>'s partition. True when the total has reached the bound:
    /// the worker is then registered to be resumed and must pause its partition.
    /// </summary>
    public bool Add(PartitionWorker worker, long bytes)
    {
        lock (_lock)
        {
            _total += bytes;
            _peak = Math.Max(_peak, _total);
            if (_total < Bound)
            {
                return false;
            }

            _paused.Add(worker);
            return true;
        }
    }

    /// <summary>Releases finished (or abandoned) bytes; resumes the paused partitions once the total is at half the bound.</summary>
    public void Release(long bytes)
    {
        PartitionWorker[] resume;
        lock (_lock)
        {
            _total -= bytes;
            if (_paused.Count == 0 || _total > Bound / 2)
            {
                return;
            }

            resume = [.. _paused];
            _paused.Clear();
        }

        foreach (var worker in resume)
        {
            worker.OnBytesDrained();
        }
    }

    /// <summary>Forgets a worker that stopped; its partition is not resumed through this bound any more.</summary>
    public void Forget(PartitionWorker worker)
    {
        lock (_lock)
        {
            _paused.Remove(worker);
        }
    }
}
