using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Commits, for one group member, each partition's finished run of offsets. Commits are coalesced over
/// <see cref="Interval"/> and skipped when nothing moved; a failed commit is logged and tried again at the
/// next interval, because the finished offsets it carried are still known.
/// Runs on the consumer thread only.
/// </summary>
internal sealed class OffsetCommitter
{
    private readonly string _route;
    private readonly int _member;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<int, long> _committed = [];
    private readonly List<TopicPartitionOffset> _released = [];
    private long _lastCommit;
    private long _releasedAt;
    private long _lastReleasedTry;

    public OffsetCommitter(string route, int member, TimeSpan interval, ILogger logger, TimeProvider time)
    {
        _route = route;
        _member = member;
        Interval = interval;
        _logger = logger;
        _time = time;
        _lastCommit = time.GetTimestamp();
    }

    public TimeSpan Interval { get; }

    /// <summary>Called for every commit that failed (for the commit failures metric).</summary>
    public Action? CommitFailed { get; init; }

    /// <summary>The offset this member last committed for <paramref name="partition"/>, if any.</summary>
    public long? CommittedOf(int partition) => _committed.TryGetValue(partition, out var offset) ? offset : null;

    /// <summary>
    /// Commits at every <see cref="Interval"/>, and early (at most every <see cref="EarlyCommitSpacing"/>) while a
    /// partition is half way to <c>max_uncommitted</c>, so that the bound pauses only partitions whose commits fail.
    /// </summary>
    public void CommitIfDue(IConsumer<byte[]?, byte[]?> consumer, IReadOnlyCollection<PartitionWorker> workers)
    {
        var since = _time.GetElapsedTime(_lastCommit);
        if (since >= Interval || (since >= EarlyCommitSpacing && workers.Any(w => w.NearUncommittedBound)))
        {
            CommitNow(consumer, workers);
        }
    }

    /// <summary>The shortest time between two early commits (and attempts of a failing one).</summary>
    public static readonly TimeSpan EarlyCommitSpacing = TimeSpan.FromMilliseconds(RouteDefaults.CoalescedCommitIntervalMs);

    /// <summary>Commits what is finished now and tells the workers; returns false when the commit failed.</summary>
    public bool CommitNow(IConsumer<byte[]?, byte[]?> consumer, IReadOnlyCollection<PartitionWorker> workers)
    {
        if (!Commit(consumer, Uncommitted(workers)))
        {
            return false;
        }

        foreach (var worker in workers)
        {
            if (_committed.TryGetValue(worker.Partition.Partition.Value, out var committed))
            {
                worker.OnCommitted(committed);
            }
        }

        return true;
    }

    /// <summary>
    /// Commits the final positions of partitions being released. If the group refuses the commit (as it may while it
    /// rebalances), the positions are kept and tried again by <see cref="RetryReleased"/> once the rebalance is over,
    /// unless the partition's new owner has committed further by then.
    /// </summary>
    public void CommitReleased(IConsumer<byte[]?, byte[]?> consumer, IEnumerable<PartitionWorker> workers)
    {
        var offsets = Uncommitted(workers);
        if (!Commit(consumer, offsets))
        {
            _released.AddRange(offsets);
            _releasedAt = _time.GetTimestamp();
        }
    }

    /// <summary>Retries refused commits of released partitions, for <see cref="ReleasedRetryWindow"/> at most.</summary>
    public void RetryReleased(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_released.Count == 0 || _time.GetElapsedTime(_lastReleasedTry) < TimeSpan.FromMilliseconds(100))
        {
            return;
        }

        _lastReleasedTry = _time.GetTimestamp();
        if (_time.GetElapsedTime(_releasedAt) > ReleasedRetryWindow)
        {
            Log.CommitFailed(_logger, _route, _member, Describe(_released), "given up: the partitions' new owners deliver from the last committed offset, so these messages repeat");
            _released.Clear();
            return;
        }

        try
        {
            // Never move a partition back behind what its new owner has committed meanwhile.
            var current = consumer.Committed(_released.Select(o => o.TopicPartition), TimeSpan.FromSeconds(2))
                .ToDictionary(c => c.TopicPartition, c => c.Offset);
            var stillBehind = _released.Where(o => !current.TryGetValue(o.TopicPartition, out var c) || c.IsSpecial || c.Value < o.Offset.Value).ToList();
            if (stillBehind.Count > 0)
            {
                consumer.Commit(stillBehind);
                Log.Committed(_logger, _route, _member, Describe(stillBehind));
            }

            _released.Clear();
        }
        catch (KafkaException)
        {
            // Still rebalancing; try again shortly.
        }
    }

    /// <summary>How long refused commits of released partitions are retried.</summary>
    public static readonly TimeSpan ReleasedRetryWindow = TimeSpan.FromSeconds(10);

    private List<TopicPartitionOffset> Uncommitted(IEnumerable<PartitionWorker> workers)
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var worker in workers)
        {
            var position = worker.Progress.CommitPosition;
            if (position >= 0 && (!_committed.TryGetValue(worker.Partition.Partition.Value, out var done) || done != position))
            {
                offsets.Add(new TopicPartitionOffset(worker.Partition, position));
            }
        }

        return offsets;
    }

    private bool Commit(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> offsets)
    {
        _lastCommit = _time.GetTimestamp();
        if (offsets.Count == 0)
        {
            return true;
        }

        try
        {
            consumer.Commit(offsets);
            foreach (var offset in offsets)
            {
                _committed[offset.Partition.Value] = offset.Offset.Value;
            }

            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.Committed(_logger, _route, _member, Describe(offsets));
            }

            return true;
        }
        catch (KafkaException ex)
        {
            Log.CommitFailed(_logger, _route, _member, Describe(offsets), ex.Error.Reason + "; will be retried");
            CommitFailed?.Invoke();
            return false;
        }
    }

    /// <summary>Drops what is known of partitions this member no longer owns.</summary>
    public void Forget(IEnumerable<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            _committed.Remove(partition.Partition.Value);
        }
    }

    internal static string Describe(IEnumerable<TopicPartitionOffset> offsets) =>
        string.Join(", ", offsets.Select(o => $"{o.Partition.Value}:{o.Offset.Value}"));
}
