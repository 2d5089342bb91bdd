using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Where one assigned partition stands: messages fetched, finished (delivered or skipped), recorded in the local
/// offset store, and the offset that may be committed. The partition worker reports to it; the committer reads it.
/// </summary>
internal sealed class PartitionProgress
{
    private readonly OffsetTracker _tracker = new();
    private readonly OffsetRecordFile? _record;
    private readonly DeliveryGuarantee _mode;
    private long _durable;
    private long _initial = -1;

    /// <summary>Progress without a local store (tests of the worker alone).</summary>
    public PartitionProgress()
        : this(null, DeliveryGuarantee.AtLeastOnce, -1)
    {
    }

    /// <param name="durableFrom">The next offset of the partition's local record at assignment (-1: none); it is already on disk.</param>
    public PartitionProgress(OffsetRecordFile? record, DeliveryGuarantee mode, long durableFrom)
    {
        _record = record;
        _mode = mode;
        _durable = durableFrom;
    }

    /// <summary>Fetched messages not yet finished.</summary>
    public int Pending => _tracker.Pending;

    /// <summary>
    /// The next offset to commit, or -1 when there is nothing to commit. In mode 3 it never passes what the local
    /// store holds durably, so the cluster is never ahead of the machine's own record.
    /// </summary>
    public long CommitPosition
    {
        get
        {
            var position = _tracker.CommitPosition;
            if (position < 0)
            {
                position = Volatile.Read(ref _initial);
            }

            return _mode == DeliveryGuarantee.NoRepeatOnOneMachine ? Math.Min(position, Volatile.Read(ref _durable)) : position;
        }
    }

    /// <summary>Makes <paramref name="offset"/> the position to commit before anything is finished (offset restore).</summary>
    public void CommitFrom(long offset) => Volatile.Write(ref _initial, offset);

    /// <summary>Registers a fetched message (offsets of a partition arrive in increasing order).</summary>
    public void Track(long offset) => _tracker.Track(offset);

    /// <summary>Marks a message that is not delivered because the local record shows it was done before.</summary>
    public void FinishRepeat(long offset) => _ = _tracker.Finish(offset);

    /// <summary>
    /// Marks a message delivered or skipped and records the new position locally. In mode 3 this completes only
    /// once the record is durable on disk, so the message counts as done only then.
    /// </summary>
    public ValueTask FinishAsync(long offset)
    {
        var position = _tracker.Finish(offset);
        if (_record is null)
        {
            return ValueTask.CompletedTask;
        }

        try
        {
            _record.Write(position);
            if (_mode == DeliveryGuarantee.NoRepeatOnOneMachine)
            {
                _record.Flush();
                InterlockedMax(ref _durable, position);
            }
        }
        catch (IOException)
        {
            // The position stays uncommitted in mode 3 until a later flush succeeds; the next write retries.
        }

        return ValueTask.CompletedTask;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
