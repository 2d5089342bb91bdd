using System.Collections.Concurrent;
using Confluent.Kafka;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What a route member's partition workers ask of its consume loop from their own threads: a worker stopped by a fault
/// is restarted, and a worker's request to pause or resume its partition's fetching at a bound is applied, both on the
/// loop's thread, the only one that touches the consumer. Also how long the loop polls while a partition is paused at a
/// bound.
/// </summary>
internal sealed class WorkerRequests
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(20);

    // While a partition's fetching is paused at a bound, a completion thread may ask for it to resume, and only the loop
    // may resume it: it polls every 1 ms after the pause, then twice as long after each empty poll up to PollTimeout, so
    // a fast endpoint that drains at once does not wait for its next fetch and a slow one costs no busy loop.
    private static readonly TimeSpan BoundPausedPollTimeout = TimeSpan.FromMilliseconds(1);

    // A partition whose worker faulted is restarted at once, then at most once per RestartPause.
    private static readonly TimeSpan RestartPause = TimeSpan.FromSeconds(1);

    private readonly ConcurrentQueue<PartitionWorker> _faulted = new();
    private readonly ConcurrentQueue<PartitionWorker> _fetchChanges = new();
    private TimeSpan _pausedPoll = BoundPausedPollTimeout;

    /// <summary>A worker stopped by a fault (any thread); the loop restarts its partition.</summary>
    public void Faulted(PartitionWorker worker) => _faulted.Enqueue(worker);

    /// <summary>A worker wants its partition's fetching paused or resumed (any thread); the loop applies it.</summary>
    public void FetchChanged(PartitionWorker worker) => _fetchChanges.Enqueue(worker);

    /// <summary>How long the next poll waits: short while a partition is paused at a bound.</summary>
    public TimeSpan NextPollTimeout(Dictionary<int, PartitionSession> sessions)
    {
        foreach (var session in sessions.Values)
        {
            if (session.FetchPaused)
            {
                return _pausedPoll;
            }
        }

        return PollTimeout;
    }

    /// <summary>A poll returned (<paramref name="empty"/>: without a message).</summary>
    public void Polled(bool empty) =>
        _pausedPoll = empty ? TimeSpan.FromTicks(Math.Min(_pausedPoll.Ticks * 2, PollTimeout.Ticks)) : BoundPausedPollTimeout;

    /// <summary>
    /// Restarts the partitions whose worker stopped on a fault (logged by the worker with its stack trace) at their
    /// oldest unfinished offset; one the client refused, or restarted too recently, is tried again after the next poll.
    /// </summary>
    public void RestartFaulted(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions)
    {
        var count = _faulted.Count;
        for (var i = 0; i < count && _faulted.TryDequeue(out var faulted); i++)
        {
            if (!sessions.TryGetValue(faulted.Partition.Partition.Value, out var session) || !ReferenceEquals(session.Worker, faulted))
            {
                // Revoked meanwhile: the partition's next owner starts from its committed offset.
                continue;
            }

            if (!session.RestartAfterFault(consumer, RestartPause))
            {
                _faulted.Enqueue(faulted);
            }
        }
    }

    /// <summary>Pauses or resumes the fetching of partitions whose current worker asked for it.</summary>
    public void ApplyFetchChanges(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions)
    {
        var count = _fetchChanges.Count;
        for (var i = 0; i < count && _fetchChanges.TryDequeue(out var worker); i++)
        {
            if (sessions.TryGetValue(worker.Partition.Partition.Value, out var session) && ReferenceEquals(session.Worker, worker))
            {
                session.ApplyFetch(consumer);
                _pausedPoll = BoundPausedPollTimeout;
            }
        }
    }

    /// <summary>True when a worker has asked for something since the last time the loop looked.</summary>
    public bool AnyFaulted => !_faulted.IsEmpty;

    /// <inheritdoc cref="AnyFaulted"/>
    public bool AnyFetchChanges => !_fetchChanges.IsEmpty;
}
