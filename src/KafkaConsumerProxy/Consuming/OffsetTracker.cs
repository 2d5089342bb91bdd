namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Tracks one partition's fetched messages until they are finished (delivered or skipped) and yields the
/// offset that may be committed: the end of the unbroken run of finished offsets. A message finished out of
/// order (async delivery) never moves the commit past an earlier one that is still in flight.
/// Thread-safe: the worker finishes offsets while the consumer thread reads the commit position.
/// </summary>
public sealed class OffsetTracker
{
    private readonly Lock _lock = new();

    // Offsets in fetch order with their finished flag; the head is the oldest unfinished one.
    private readonly Queue<long> _order = new();
    private readonly HashSet<long> _finishedAhead = [];
    private long _commitPosition = -1;

    /// <summary>Number of tracked messages not yet finished.</summary>
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

    /// <summary>The offset to commit (next offset to consume), or -1 when nothing has been finished yet.</summary>
    public long CommitPosition
    {
        get
        {
            lock (_lock)
            {
                return _commitPosition;
            }
        }
    }

    /// <summary>
    /// Where a restarted partition must be fetched from so that nothing unfinished is passed over: the oldest
    /// unfinished offset, else the commit position; -1 when nothing was ever tracked.
    /// </summary>
    public long RestartPosition
    {
        get
        {
            lock (_lock)
            {
                // The head of the queue is always unfinished: finished heads are dequeued at once.
                return _order.Count > 0 ? _order.Peek() : _commitPosition;
            }
        }
    }

    /// <summary>
    /// The offsets finished after the oldest unfinished one, in increasing order: a partition restarted at
    /// <see cref="RestartPosition"/> fetches them again and must not deliver them again.
    /// </summary>
    public long[] FinishedAhead()
    {
        lock (_lock)
        {
            var ahead = _finishedAhead.ToArray();
            Array.Sort(ahead);
            return ahead;
        }
    }

    /// <summary>The tracked offsets not yet finished and those finished ahead of the oldest unfinished one, each in offset order.</summary>
    public (long[] Unfinished, long[] FinishedAhead) Snapshot()
    {
        lock (_lock)
        {
            var ahead = _finishedAhead.Order().ToArray();
            return ([.. _order.Where(o => !_finishedAhead.Contains(o))], ahead);
        }
    }

    /// <summary>Registers a fetched message; offsets of one partition arrive in increasing order.</summary>
    public void Track(long offset)
    {
        lock (_lock)
        {
            _order.Enqueue(offset);
        }
    }

    /// <summary>Marks a message finished, advances the commit position over the finished run, and returns it.</summary>
    public long Finish(long offset)
    {
        lock (_lock)
        {
            if (_order.Count == 0)
            {
                return _commitPosition;
            }

            if (_order.Peek() != offset)
            {
                _finishedAhead.Add(offset);
                return _commitPosition;
            }

            _order.Dequeue();
            _commitPosition = offset + 1;
            while (_order.Count > 0 && _finishedAhead.Remove(_order.Peek()))
            {
                _commitPosition = _order.Dequeue() + 1;
            }

            return _commitPosition;
        }
    }
}
