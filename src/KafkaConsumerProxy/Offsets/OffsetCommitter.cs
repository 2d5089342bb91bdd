using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Commits, for one group member, each partition's finished run of offsets, given as the partitions' commit
/// positions (<see cref="PartitionOffsets.CommitPosition"/>). Commits are coalesced over
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

    // What this member committed per partition since the partition was assigned: the only copy of it (the partitions
    // know where they stand, not what the group holds).
    private readonly Dictionary<int, long> _committed = [];

    // Partitions moved by a seek: their next commit may go behind _committed.
    private readonly HashSet<int> _rewound = [];
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
    /// True when at least one partition is half way to <c>max_uncommitted</c> (asked only when an early commit is
    /// allowed); null: never early.
    /// </summary>
    public Func<bool>? EarlyCommitWanted { get; init; }

    /// <summary>
    /// True when a commit is due: at every <see cref="Interval"/>, and early (at most every
    /// <see cref="EarlyCommitSpacing"/>) while <see cref="EarlyCommitWanted"/>, so that the bound pauses only partitions
    /// whose commits fail.
    /// </summary>
    public bool IsDue
    {
        get
        {
            var since = _time.GetElapsedTime(_lastCommit);
            return since >= Interval || (since >= EarlyCommitSpacing && EarlyCommitWanted is { } early && early());
        }
    }

    /// <summary>The shortest time between two early commits (and attempts of a failing one).</summary>
    public static readonly TimeSpan EarlyCommitSpacing = TimeSpan.FromMilliseconds(RouteDefaults.CoalescedCommitIntervalMs);

    /// <summary>
    /// Commits each partition's position (its <see cref="PartitionOffsets.CommitPosition"/>) that moved forward since this
    /// member last committed it; returns false when the commit failed. What was committed is then
    /// <see cref="CommittedOf"/>.
    /// </summary>
    public bool CommitNow(IConsumer<byte[]?, byte[]?> consumer, IEnumerable<TopicPartitionOffset> positions) =>
        Commit(consumer, Uncommitted(positions));

    /// <summary>
    /// Commits the final positions of partitions being released. If the group refuses the commit (as it may while it
    /// rebalances), the positions are kept and tried again by <see cref="RetryReleased"/> once the rebalance is over,
    /// unless the partition's new owner has committed further by then.
    /// </summary>
    public void CommitReleased(IConsumer<byte[]?, byte[]?> consumer, IEnumerable<TopicPartitionOffset> positions)
    {
        var offsets = Uncommitted(positions);
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

    /// <summary>
    /// The positions to commit: those not yet committed, and never one behind what this member committed for the
    /// partition since it was assigned (<see cref="Forget"/>), unless an operator moved it back (<see cref="Rewind"/>):
    /// whatever a partition reports after a pause, a fault or a restore, the group's offset only moves forward, so a
    /// takeover never repeats what this member saw committed.
    /// </summary>
    private List<TopicPartitionOffset> Uncommitted(IEnumerable<TopicPartitionOffset> positions)
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var position in positions)
        {
            var offset = position.Offset;
            var partition = position.Partition.Value;
            if (offset.IsSpecial || offset.Value < 0)
            {
                continue;
            }

            if (_committed.TryGetValue(partition, out var done) && (offset.Value == done || (offset.Value < done && !_rewound.Contains(partition))))
            {
                continue;
            }

            offsets.Add(position);
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
                _rewound.Remove(offset.Partition.Value);
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
            _rewound.Remove(partition.Partition.Value);
        }
    }

    /// <summary>
    /// An operator moved <paramref name="partition"/> (a seek): its next commit goes where the partition now stands,
    /// even behind what this member committed.
    /// </summary>
    public void Rewind(int partition) => _rewound.Add(partition);

    internal static string Describe(IEnumerable<TopicPartitionOffset> offsets) =>
        string.Join(", ", offsets.Select(o => $"{o.Partition.Value}:{o.Offset.Value}"));
}
