namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The record timestamps a partition needs for its time lag (<c>kcp.consumer.lag_seconds</c>): the timestamp of each
/// message handed to delivery, kept until its offset is no longer unfinished, and of the last one fetched. Used on the
/// consume thread only (dispatch and the partition's view), so unlocked; a queue of value pairs, so no allocation per
/// message once it has grown to the partition's pending messages.
/// </summary>
internal sealed class RecordTimes
{
    private readonly Queue<(long Offset, long TimestampMs)> _dispatched = new();
    private long _lastFetchedMs = -1;

    /// <summary>A message was handed to delivery. An offset not after the last one (a restart, a seek) starts over.</summary>
    public void Dispatched(long offset, long timestampMs)
    {
        if (timestampMs <= 0)
        {
            // No timestamp (NotAvailable): says nothing of the lag.
            return;
        }

        if (_dispatched.TryPeek(out _) && offset <= LastOffset)
        {
            _dispatched.Clear();
        }

        _dispatched.Enqueue((offset, timestampMs));
        LastOffset = offset;
        _lastFetchedMs = timestampMs;
    }

    private long LastOffset { get; set; } = -1;

    /// <summary>
    /// The timestamp the partition's time lag is measured from: that of <paramref name="oldestUnfinished"/> (or of the
    /// first message after it known here); with nothing unfinished, that of the last message fetched while the partition
    /// is behind (<paramref name="position"/> below <paramref name="high"/>: the next unfetched message is no older); -1
    /// when caught up or unknown.
    /// </summary>
    public long LagFromMs(long oldestUnfinished, long position, long high)
    {
        while (oldestUnfinished >= 0 && _dispatched.TryPeek(out var head) && head.Offset < oldestUnfinished)
        {
            _dispatched.Dequeue();
        }

        if (oldestUnfinished >= 0)
        {
            return _dispatched.TryPeek(out var oldest) ? oldest.TimestampMs : _lastFetchedMs;
        }

        _dispatched.Clear();
        return position >= 0 && high > position ? _lastFetchedMs : -1;
    }
}
