using KafkaConsumerProxy.Consuming;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Where one assigned partition stands: messages fetched, finished (delivered or skipped), and the offset that may
/// be committed. The partition worker reports to it; the committer reads it.
/// </summary>
internal sealed class PartitionProgress
{
    private readonly OffsetTracker _tracker = new();

    /// <summary>Fetched messages not yet finished.</summary>
    public int Pending => _tracker.Pending;

    /// <summary>The next offset to commit, or -1 when nothing is finished yet.</summary>
    public long CommitPosition => _tracker.CommitPosition;

    /// <summary>Registers a fetched message (offsets of a partition arrive in increasing order).</summary>
    public void Track(long offset) => _tracker.Track(offset);

    /// <summary>
    /// Marks a message delivered or skipped. Completes when the message counts as done for the route's
    /// guarantee mode; the worker may finish further messages concurrently (async delivery).
    /// </summary>
    public ValueTask FinishAsync(long offset)
    {
        _tracker.Finish(offset);
        return ValueTask.CompletedTask;
    }
}
