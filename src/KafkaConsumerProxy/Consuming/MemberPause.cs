using System.Collections.Concurrent;
using Confluent.Kafka;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The operator's pause of a route member, applied on its consumer thread: from the request on no worker starts a new
/// delivery (<see cref="Requested"/>), then the partition workers stop (attempts in flight finish) and their sessions stay, so that their finished offsets are committed as usual; fetching is paused
/// with <c>consumer.Pause</c>, so the member keeps polling, stays in the group and nothing rebalances. A message the
/// client still returns is not delivered; its offset is where fetching resumes. Resume restarts each partition at its
/// oldest unfinished offset (<see cref="PartitionSession.Resume"/>); messages finished after it (async delivery) are
/// fetched again but not delivered again (<see cref="PartitionOffsets.FinishIfDoneBefore"/>).
/// </summary>
internal sealed class MemberPause(MemberParts parts, Action<IReadOnlyCollection<PartitionSession>> stopWorkers)
{
    private readonly ConcurrentQueue<TaskCompletionSource> _waiters = new();
    private volatile bool _requested;
    private volatile bool _ended;

    /// <summary>True while a pause is requested (any thread).</summary>
    public bool Requested => _requested;

    /// <summary>Requests the pause or its end (any thread); completes once the consumer thread has applied it.</summary>
    public Task SetAsync(bool paused)
    {
        _requested = paused;
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Enqueue(applied);
        if (_ended)
        {
            CompleteWaiters(int.MaxValue);
        }

        return applied.Task;
    }

    /// <summary>Applies the requested state to the member's sessions; runs on the consumer thread after every poll.</summary>
    public void Apply(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions, Func<bool> commitNow)
    {
        var waiters = _waiters.Count;
        if (!_requested && !AnyPausedOrHeld(sessions))
        {
            CompleteWaiters(waiters);
            return;
        }

        foreach (var session in sessions.Values)
        {
            session.NoteHeldInPause();
        }

        if (_requested)
        {
            Pause(consumer, sessions, commitNow);
        }
        else
        {
            Resume(consumer, sessions);
        }

        CompleteWaiters(waiters);
    }

    /// <summary>The member stopped: nobody applies a pause any more, so nobody waits for one.</summary>
    public void End()
    {
        _ended = true;
        CompleteWaiters(int.MaxValue);
    }

    private static bool AnyPausedOrHeld(Dictionary<int, PartitionSession> sessions)
    {
        foreach (var session in sessions.Values)
        {
            if (session.IsPaused || session.HasHeld)
            {
                return true;
            }
        }

        return false;
    }

    private void Pause(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions, Func<bool> commitNow)
    {
        var toPause = sessions.Values.Where(s => !s.IsPaused).ToList();
        if (toPause.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Pause(toPause.Select(s => s.Partition).ToList());
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(parts.Logger, parts.Route.Name, parts.Member, "could not pause fetching: " + ex.Error.Reason);
        }

        // Attempts in flight finish (bounded by exec_timeout_ms); queued messages stay unfinished and are fetched again.
        stopWorkers(toPause);
        foreach (var session in toPause)
        {
            session.EnterPause();
        }

        commitNow();
        Log.MemberPauseApplied(parts.Logger, parts.Route.Name, parts.Member, "paused: fetching stopped, deliveries in flight finished and committed", toPause.Count);
    }

    private void Resume(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions)
    {
        var count = 0;
        foreach (var session in sessions.Values)
        {
            if (!session.IsPaused)
            {
                continue;
            }

            try
            {
                session.Resume(consumer);
            }
            catch (KafkaException ex)
            {
                // Tried again after the next poll.
                Log.KafkaError(parts.Logger, parts.Route.Name, parts.Member, $"resume of {session.Partition.Topic}/{session.Number} failed, tried again: {ex.Error.Reason}");
                continue;
            }

            count++;
        }

        foreach (var session in sessions.Values)
        {
            session.ClearHeld();
        }

        if (count > 0)
        {
            Log.MemberPauseApplied(parts.Logger, parts.Route.Name, parts.Member, "resumed", count);
        }
    }

    private void CompleteWaiters(int count)
    {
        for (var i = 0; i < count && _waiters.TryDequeue(out var waiter); i++)
        {
            waiter.TrySetResult();
        }
    }
}
