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

    // Offsets the predecessor of a restarted partition finished after its oldest unfinished one (consumer thread only):
    // fetched again, they are finished without a delivery.
    private HashSet<long>? _doneBefore;

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

    /// <summary>The oldest fetched offset not yet finished, or -1 when none is pending.</summary>
    public long OldestUnfinished => _tracker.Pending > 0 ? _tracker.RestartPosition : -1;

    /// <summary>
    /// The fetched offsets not yet finished, and those finished ahead of the oldest of them, in offset order; the latter
    /// include those finished before a restart that are not fetched again yet (consumer thread only).
    /// </summary>
    public (long[] Unfinished, long[] FinishedAhead) Snapshot()
    {
        var (unfinished, finishedAhead) = _tracker.Snapshot();
        if (_doneBefore is null)
        {
            return (unfinished, finishedAhead);
        }

        var all = finishedAhead.Concat(_doneBefore).ToArray();
        Array.Sort(all);
        return (unfinished, all);
    }

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

    /// <summary>Offsets finished before a restart that are still to be fetched again (see <see cref="Restart"/>).</summary>
    public int DoneBeforeRestart => _doneBefore?.Count ?? 0;

    /// <summary>
    /// True when <paramref name="offset"/> was finished (delivered or skipped) before the partition was restarted
    /// behind it (a pause, a fault): it is tracked and finished again without a delivery, so the commit moves over it.
    /// Consumer thread only, like <see cref="Track"/>.
    /// </summary>
    public bool FinishIfDoneBefore(long offset)
    {
        if (_doneBefore is null || !_doneBefore.Remove(offset))
        {
            return false;
        }

        if (_doneBefore.Count == 0)
        {
            _doneBefore = null;
        }

        _tracker.Track(offset);
        var position = _tracker.Finish(offset);
        if (_record is null)
        {
            return true;
        }

        // Recorded like a delivery; mode 3 flushes only at the end of the run, the next delivery's flush covers the rest.
        _record.Write(position);
        if (_mode == DeliveryGuarantee.NoRepeatOnOneMachine && _doneBefore is null && _tracker.Pending == 0)
        {
            try
            {
                InterlockedMax(ref _durable, _record.Flush());
            }
            catch (IOException)
            {
                // Logged by the record; the next finished message flushes again.
            }
        }

        return true;
    }

    /// <summary>How long mode 3 waits before flushing again after a failed flush of the local record.</summary>
    public static readonly TimeSpan FlushRetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Marks a message delivered or skipped and records the new position locally. In mode 3 this completes only
    /// once a position at or beyond it is durable on disk, so the message counts as done only then: while the flush
    /// fails (logged at error by the record) it is retried every <see cref="FlushRetryInterval"/> and the partition's
    /// commit stays where it is. <paramref name="abandon"/> ends the retries (revoke or stop); the message then stays
    /// uncommitted.
    /// </summary>
    public async ValueTask FinishAsync(long offset, TimeProvider time, CancellationToken abandon)
    {
        var position = _tracker.Finish(offset);
        if (_record is null)
        {
            return;
        }

        // The record refuses positions behind the one it holds, so out-of-order completions never move it back.
        _record.Write(position);
        if (_mode != DeliveryGuarantee.NoRepeatOnOneMachine)
        {
            return;
        }

        while (Volatile.Read(ref _durable) < position)
        {
            try
            {
                // Durable is what was actually flushed, never a position computed before the flush.
                var flushed = _record.Flush();
                InterlockedMax(ref _durable, flushed);
                if (flushed < position)
                {
                    // Released meanwhile: the record is closed and the message stays uncommitted.
                    return;
                }
            }
            catch (IOException)
            {
                try
                {
                    await Task.Delay(FlushRetryInterval, time, abandon).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Finishes without waiting for durability (tests of the progress alone).</summary>
    public ValueTask FinishAsync(long offset) => FinishAsync(offset, TimeProvider.System, CancellationToken.None);

    /// <summary>The position that is known to be on disk (mode 3), or -1.</summary>
    public long Durable => Volatile.Read(ref _durable);

    /// <summary>
    /// The progress of the same partition restarted after a fault or a pause: it continues from this one's finished run
    /// and durable position. <paramref name="seekTo"/> is where fetching must resume so that every unfinished message is
    /// delivered again (-1: nothing was ever fetched, fetching goes on where it is); the messages finished after it
    /// (async delivery) are remembered and not delivered again (<see cref="FinishIfDoneBefore"/>). Only once the worker
    /// has stopped: a message finished later would be neither remembered nor unfinished.
    /// </summary>
    public PartitionProgress Restart(out long seekTo)
    {
        var restartAt = _tracker.RestartPosition;
        seekTo = restartAt;
        var successor = new PartitionProgress(_record, _mode, Volatile.Read(ref _durable));
        var finished = _tracker.CommitPosition;
        successor.CommitFrom(finished >= 0 ? finished : Volatile.Read(ref _initial));
        var ahead = _tracker.FinishedAhead();
        if (_doneBefore is not null)
        {
            // Restarted again before all of an earlier restart's finished messages came back.
            ahead = [.. ahead.Concat(_doneBefore.Where(o => o >= restartAt))];
        }

        if (ahead.Length > 0)
        {
            successor._doneBefore = [.. ahead];
        }

        return successor;
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
