using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Files;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// The one owner of an assigned partition's offsets: messages fetched and not yet finished (delivered or skipped), the
/// end of the unbroken run of finished offsets, the offset that may be committed, where a restart fetches again, which
/// fetched offsets are repeats the local record shows done (<see cref="IsRepeat"/>), and the local record itself
/// (<see cref="OffsetRecordFile"/>, written and flushed as messages finish). The partition worker and the consumer
/// thread report to it; the committer reads it.
/// <para>
/// One lock guards all of it, and every position only moves forward: a message finished out of order (async
/// delivery) never moves the commit past an earlier one still in flight, and in mode 3 the commit never passes what
/// the local record holds durably. The record's own writes and flushes (a store into mapped memory, an msync) are
/// made outside the lock; the record refuses a position behind one it holds.
/// </para>
/// <para>
/// A restart (after a fault, at the end of a pause: <see cref="Restart"/>; an operator's seek: <see cref="RestartAt"/>)
/// happens in place and starts a new run: a completion of the stopped worker's run that still arrives is ignored, so it
/// cannot count in the new one.
/// </para>
/// </summary>
internal sealed class PartitionOffsets
{
    /// <summary>How long mode 3 waits before flushing again after a failed flush of the local record.</summary>
    public static readonly TimeSpan FlushRetryInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly OffsetRecordFile? _record;
    private readonly DeliveryGuarantee _mode;

    // The worker run the offsets count for (see Restart); a completion of an earlier run is ignored.
    private int _run;

    // Drops offsets the trusted local record shows done; consumer thread only, like Track.
    private RepeatFilter? _filter;

    // See UncommittedFrom; consumer thread only, read for every fetched message, so not under the lock.
    private long _uncommittedFrom = -1;

    // Offsets in fetch order; the head is the oldest unfinished one (finished heads are dequeued at once). Offsets
    // finished while an earlier one is still in flight wait in _finishedAhead.
    private readonly Queue<long> _order = new();
    private readonly HashSet<long> _finishedAhead = [];

    // The end of the finished run (-1: nothing finished yet), the position to commit before anything is finished
    // (offset restore, a restart's predecessor), and what the local record holds durably (mode 3).
    private long _finished = -1;
    private long _initial = -1;
    private long _durable;

    // Offsets the predecessor of a restarted partition finished after its oldest unfinished one: fetched again, they
    // are finished without a delivery.
    private HashSet<long>? _doneBefore;

    /// <summary>
    /// A partition's lag, the one formula behind the API, the metrics, the dashboard, <c>kcp status</c> and
    /// <c>kcp offsets show</c>: the messages the group still has to finish, from the committed offset to the log end;
    /// from the log start when nothing is committed or the committed offset lies outside the log (where the next owner
    /// starts, auto.offset.reset=earliest being kcp's default); 0 while the log end is unknown.
    /// </summary>
    /// <param name="logStart">The partition's low watermark; negative when unknown (counted as 0).</param>
    /// <param name="logEnd">The partition's high watermark; negative when unknown.</param>
    /// <param name="committed">The group's committed offset; negative when there is none.</param>
    public static long Lag(long logStart, long logEnd, long committed)
    {
        if (logEnd < 0)
        {
            return 0;
        }

        var start = Math.Clamp(logStart, 0, logEnd);
        var from = committed < start || committed > logEnd ? start : committed;
        return logEnd - from;
    }

    /// <summary>Offsets without a local store (tests of the worker alone).</summary>
    public PartitionOffsets()
        : this(null, DeliveryGuarantee.AtLeastOnce, -1)
    {
    }

    /// <param name="record">The partition's local record, owned from here on; null: none (modes 1 and 2 when it cannot be created).</param>
    /// <param name="mode">The route's delivery guarantee: mode 3 waits for the record to be durable.</param>
    /// <param name="durableFrom">The next offset of the partition's local record at assignment (-1: none); it is already on disk.</param>
    /// <param name="filter">Drops the repeats a trusted local record shows done (<see cref="IsRepeat"/>); null: none.</param>
    public PartitionOffsets(OffsetRecordFile? record, DeliveryGuarantee mode, long durableFrom, RepeatFilter? filter = null)
    {
        _record = record;
        _mode = mode;
        _durable = durableFrom;
        _filter = filter;
    }

    /// <summary>The partition's local record; null when there is none.</summary>
    public OffsetRecordFile? Record => _record;

    /// <summary>
    /// The current run: a worker reads it when it starts and finishes its messages with it
    /// (<see cref="FinishAsync(long, int, TimeProvider, CancellationToken)"/>), so that once the partition restarted
    /// behind it, its late completions are ignored.
    /// </summary>
    public int Run => Volatile.Read(ref _run);

    /// <summary>
    /// Where the partition's fetched offsets count as not committed (max_uncommitted): the group's last successful
    /// commit of it, else the first offset fetched; -1 before either. Kept across restarts, so a pause, a fault or a seek
    /// does not forget commits that failed. Consumer thread only.
    /// </summary>
    public long UncommittedFrom
    {
        get => _uncommittedFrom;
        set => _uncommittedFrom = value;
    }

    /// <summary>True while fetched offsets are checked against a trusted local record (<see cref="IsRepeat"/>).</summary>
    public bool Filtering => _filter is not null;

    /// <summary>Fetched messages not yet finished.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _order.Count - _finishedAhead.Count;
            }
        }
    }

    /// <summary>The oldest fetched offset not yet finished, or -1 when none is pending.</summary>
    public long OldestUnfinished
    {
        get
        {
            lock (_lock)
            {
                return _order.Count > 0 ? _order.Peek() : -1;
            }
        }
    }

    /// <summary>
    /// The next offset to commit, or -1 when there is nothing to commit. In mode 3 it never passes what the local
    /// store holds durably, so the cluster is never ahead of the machine's own record.
    /// </summary>
    public long CommitPosition
    {
        get
        {
            lock (_lock)
            {
                var position = _finished >= 0 ? _finished : _initial;
                return _mode == DeliveryGuarantee.NoRepeatOnOneMachine ? Math.Min(position, _durable) : position;
            }
        }
    }

    /// <summary>
    /// Where a restarted partition must be fetched from so that nothing unfinished is passed over: the oldest
    /// unfinished offset, else the end of the finished run; -1 when nothing was ever finished or is pending.
    /// </summary>
    public long RestartPosition
    {
        get
        {
            lock (_lock)
            {
                return RestartPositionLocked();
            }
        }
    }

    /// <summary>The position that is known to be on disk (mode 3), or -1.</summary>
    public long Durable
    {
        get
        {
            lock (_lock)
            {
                return _durable;
            }
        }
    }

    /// <summary>Offsets finished before a restart that are still to be fetched again (see <see cref="Restart"/>).</summary>
    public int DoneBeforeRestart
    {
        get
        {
            lock (_lock)
            {
                return _doneBefore?.Count ?? 0;
            }
        }
    }

    /// <summary>
    /// The fetched offsets not yet finished, and those finished ahead of the oldest of them, in offset order; the latter
    /// include those finished before a restart that are not fetched again yet.
    /// </summary>
    public (long[] Unfinished, long[] FinishedAhead) Snapshot()
    {
        lock (_lock)
        {
            long[] unfinished = [.. _order.Where(o => !_finishedAhead.Contains(o))];
            var ahead = _doneBefore is null ? _finishedAhead.ToArray() : [.. _finishedAhead, .. _doneBefore];
            Array.Sort(ahead);
            return (unfinished, ahead);
        }
    }

    /// <summary>Makes <paramref name="offset"/> the position to commit before anything is finished (offset restore).</summary>
    public void CommitFrom(long offset)
    {
        lock (_lock)
        {
            _initial = offset;
        }
    }

    /// <summary>Registers a fetched message (offsets of a partition arrive in increasing order).</summary>
    public void Track(long offset)
    {
        lock (_lock)
        {
            _order.Enqueue(offset);
        }
    }

    /// <summary>
    /// Marks a message finished, advances the finished run over it, and returns the run's end (-1: nothing finished
    /// yet). Neither records nor waits: <see cref="FinishAsync(long, int, TimeProvider, CancellationToken)"/> does both.
    /// </summary>
    public long Finish(long offset)
    {
        lock (_lock)
        {
            return FinishLocked(offset);
        }
    }

    /// <summary>
    /// Tracks and finishes a fetched message that is not delivered because it was done before (below the local record,
    /// or delivered before a forced seek); the local record is not written for it. Consumer thread only, like
    /// <see cref="Track"/>.
    /// </summary>
    public void FinishRepeat(long offset)
    {
        lock (_lock)
        {
            _order.Enqueue(offset);
            _ = FinishLocked(offset);
        }
    }

    /// <summary>
    /// True when <paramref name="offset"/> lies below the trusted local record (delivered before, per this machine's
    /// record): it is finished without a delivery, so the commit moves past it, and the filter reports it. At the first
    /// offset at or beyond the record filtering ends. Consumer thread only, like <see cref="Track"/>.
    /// </summary>
    public bool IsRepeat(long offset)
    {
        if (_filter is not { } filter)
        {
            return false;
        }

        if (!filter.IsRepeat(offset))
        {
            // Offsets only grow from here: the filter has done its work.
            _filter = null;
            return false;
        }

        FinishRepeat(offset);
        return true;
    }

    /// <summary>
    /// Ends repeat filtering (its total is reported) and returns the filter that was under way, so that a pause can set
    /// it up again on resume; null when none was.
    /// </summary>
    public RepeatFilter? EndFiltering()
    {
        var filter = _filter;
        filter?.Stop();
        _filter = null;
        return filter;
    }

    /// <summary>
    /// True when <paramref name="offset"/> was finished (delivered or skipped) before the partition was restarted
    /// behind it (a pause, a fault): it is tracked and finished again without a delivery, so the commit moves over it.
    /// Consumer thread only, like <see cref="Track"/>.
    /// </summary>
    public bool FinishIfDoneBefore(long offset)
    {
        long position;
        bool runEnded;
        lock (_lock)
        {
            if (_doneBefore is null || !_doneBefore.Remove(offset))
            {
                return false;
            }

            if (_doneBefore.Count == 0)
            {
                _doneBefore = null;
            }

            _order.Enqueue(offset);
            position = FinishLocked(offset);
            runEnded = _doneBefore is null && _order.Count == _finishedAhead.Count;
        }

        if (_record is null)
        {
            return true;
        }

        // Recorded like a delivery; mode 3 flushes only at the end of the run, the next delivery's flush covers the rest.
        _record.Write(position);
        if (_mode == DeliveryGuarantee.NoRepeatOnOneMachine && runEnded)
        {
            try
            {
                RaiseDurable(_record.Flush());
            }
            catch (IOException)
            {
                // Logged by the record; the next finished message flushes again.
            }
        }

        return true;
    }

    /// <summary>
    /// Marks a message of worker run <paramref name="run"/> delivered or skipped and records the new position locally. In mode 3 this completes only
    /// once a position at or beyond it is durable on disk, so the message counts as done only then: while the flush
    /// fails (logged at error by the record) it is retried every <see cref="FlushRetryInterval"/> and the partition's
    /// commit stays where it is. <paramref name="abandon"/> ends the retries (revoke or stop); the message then stays
    /// uncommitted.
    /// </summary>
    public async ValueTask FinishAsync(long offset, int run, TimeProvider time, CancellationToken abandon)
    {
        long position;
        lock (_lock)
        {
            if (run != _run)
            {
                // A worker stopped before the partition restarted behind it: the new run fetches the message again.
                return;
            }

            position = FinishLocked(offset);
        }

        if (_record is null)
        {
            return;
        }

        var identityCheckDue = _record.IdentityCheckDue;
        if (identityCheckDue)
        {
            // This write looks at the file system (a state_dir on a stalled network disk waits there): never on a
            // socket thread (socket_completions: inline).
            await BlockingStep.OffSocketThread();
        }

        // The record refuses positions behind the one it holds, so out-of-order completions never move it back.
        _record.Write(position, identityCheckDue);
        if (_mode != DeliveryGuarantee.NoRepeatOnOneMachine || Durable >= position)
        {
            return;
        }

        // The flush waits for the disk: never on a socket thread (socket_completions: inline).
        await BlockingStep.OffSocketThread();
        while (Durable < position)
        {
            try
            {
                // Durable is what was actually flushed, never a position computed before the flush.
                var flushed = _record.Flush();
                RaiseDurable(flushed);
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

    /// <summary>Finishes in the current run without waiting for a failed flush to be retried (tests of the offsets alone).</summary>
    // The system clock: only tests of the offsets alone call this, and none of them fails a flush, so it is never read.
    public ValueTask FinishAsync(long offset) => FinishAsync(offset, Run, TimeProvider.System, CancellationToken.None);

    /// <summary>
    /// Restarts the partition's offsets in place after a fault or a pause, once its worker has stopped: they continue
    /// from the finished run and durable position, and a new run begins (a completion of the stopped worker that still
    /// arrives is ignored). Returns where fetching must resume so that every unfinished message is delivered again (-1:
    /// nothing was ever fetched, fetching goes on where it is); the messages finished after it (async delivery) are
    /// remembered and not delivered again (<see cref="FinishIfDoneBefore"/>). Repeat filtering under way ends (its total
    /// is reported); <paramref name="filter"/>, if given, filters the new run (a pause's filter set up again).
    /// Consumer thread only.
    /// </summary>
    public long Restart(RepeatFilter? filter = null)
    {
        _ = EndFiltering();
        _filter = filter;
        lock (_lock)
        {
            var restartAt = RestartPositionLocked();
            _initial = _finished >= 0 ? _finished : _initial;
            _finished = -1;

            IEnumerable<long> ahead = _finishedAhead;
            if (_doneBefore is not null)
            {
                // Restarted again before all of an earlier restart's finished messages came back.
                ahead = ahead.Concat(_doneBefore.Where(o => o >= restartAt));
            }

            var remembered = ahead.ToHashSet();
            _doneBefore = remembered.Count > 0 ? remembered : null;
            _order.Clear();
            _finishedAhead.Clear();
            _run++;
            return restartAt;
        }
    }

    /// <summary>
    /// Restarts the partition's offsets in place at <paramref name="offset"/>, where an operator's seek moved it, once its
    /// worker has stopped: everything fetched, finished and remembered is forgotten and <paramref name="offset"/> is the
    /// position to commit; the local record is discarded (a replay is delivered, not filtered) and repeat filtering
    /// ends. The one place where the positions move back. Consumer thread only.
    /// </summary>
    public void RestartAt(long offset)
    {
        _ = EndFiltering();
        _record?.Discard();
        lock (_lock)
        {
            _order.Clear();
            _finishedAhead.Clear();
            _doneBefore = null;
            _finished = -1;
            _initial = offset;
            _durable = -1;
            _run++;
        }
    }

    /// <summary>The partition is released: repeat filtering under way ends (its total is reported) and the record is closed.</summary>
    public void Close()
    {
        _ = EndFiltering();
        _record?.Dispose();
    }

    // The head of the queue is always unfinished: finished heads are dequeued at once.
    private long RestartPositionLocked() => _order.Count > 0 ? _order.Peek() : _finished;

    private long FinishLocked(long offset)
    {
        if (_order.Count == 0)
        {
            return _finished;
        }

        if (_order.Peek() != offset)
        {
            _finishedAhead.Add(offset);
            return _finished;
        }

        _order.Dequeue();
        _finished = offset + 1;
        while (_order.Count > 0 && _finishedAhead.Remove(_order.Peek()))
        {
            _finished = _order.Dequeue() + 1;
        }

        return _finished;
    }

    private void RaiseDurable(long flushed)
    {
        lock (_lock)
        {
            _durable = Math.Max(_durable, flushed);
        }
    }
}
