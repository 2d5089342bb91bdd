using System.Collections.Concurrent;
using Confluent.Kafka;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The operator's pause of a member, applied on the consumer thread: the partition workers stop (attempts in flight
/// finish) and stay in <c>_workers</c> so that their finished offsets are committed as usual; fetching is paused with
/// <c>consumer.Pause</c>, so the member keeps polling, stays in the group and nothing rebalances. A message the client
/// still returns is not delivered; its offset is where fetching resumes. Resume starts new workers at the oldest
/// unfinished offset of each partition, as a fault restart does, with the partition's repeat filter (if it was still
/// filtering) set up again on the new progress; messages finished after that offset (async delivery) are fetched again
/// but not delivered again (<see cref="PartitionProgress.FinishIfDoneBefore"/>).
/// </summary>
internal sealed partial class RouteMember
{
    private readonly ConcurrentQueue<TaskCompletionSource> _pauseWaiters = new();

    // Consumer thread only: the paused partitions, each with its stopped worker, the progress to go on with and where
    // fetching must resume (-1: where it is).
    private readonly Dictionary<int, (PartitionWorker Stopped, PartitionProgress Successor, long SeekTo, LocalRecord? Filtering)> _paused = [];
    private readonly Dictionary<int, long> _held = [];
    private volatile bool _pauseRequested;
    private volatile bool _ended;

    private volatile int _assignedPartitions;

    /// <inheritdoc />
    public int AssignedPartitions => _assignedPartitions;

    /// <summary>Receives every error the Kafka client reports (for the route's status); called on the consumer thread.</summary>
    public Action<string>? ErrorObserved { get; init; }

    /// <inheritdoc />
    public Task SetPausedAsync(bool paused)
    {
        _pauseRequested = paused;
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pauseWaiters.Enqueue(applied);
        if (_ended)
        {
            CompletePauseWaiters(int.MaxValue);
        }

        return applied.Task;
    }

    /// <summary>True when the message must not be delivered because its partition is paused or being paused.</summary>
    private bool HoldIfPaused(ConsumeResult<byte[]?, byte[]?> result)
    {
        var partition = result.Partition.Value;
        if (!_pauseRequested && !_paused.ContainsKey(partition))
        {
            return false;
        }

        // Offsets come in order: the first held one is where fetching resumes unless an earlier one is unfinished.
        _held.TryAdd(partition, result.Offset.Value);
        return true;
    }

    /// <summary>Applies the requested pause state; runs on the consumer thread after every poll.</summary>
    private void ApplyPause(IConsumer<byte[]?, byte[]?> consumer)
    {
        // Also the place, after every poll, where the member's assignment is published for the route's status.
        _assignedPartitions = _workers.Count;
        var waiters = _pauseWaiters.Count;
        if (!_pauseRequested && _paused.Count == 0 && _held.Count == 0)
        {
            CompletePauseWaiters(waiters);
            return;
        }

        // Partitions revoked meanwhile (or restarted after a fault) are no longer this pause's business.
        foreach (var (partition, paused) in _paused.ToList())
        {
            if (!_workers.TryGetValue(partition, out var current) || !ReferenceEquals(current, paused.Stopped))
            {
                _paused.Remove(partition);
            }
        }

        foreach (var partition in _held.Keys.ToList())
        {
            if (!_workers.ContainsKey(partition))
            {
                _held.Remove(partition);
            }
            else if (_paused.TryGetValue(partition, out var paused) && paused.SeekTo < 0)
            {
                _paused[partition] = paused with { SeekTo = _held[partition] };
                _held.Remove(partition);
            }
        }

        if (_pauseRequested)
        {
            PauseWorkers(consumer);
        }
        else
        {
            ResumeWorkers(consumer);
        }

        CompletePauseWaiters(waiters);
    }

    private void PauseWorkers(IConsumer<byte[]?, byte[]?> consumer)
    {
        var toPause = _workers.Where(w => !_paused.ContainsKey(w.Key)).ToList();
        if (toPause.Count == 0)
        {
            return;
        }

        var partitions = toPause.Select(w => w.Value.Partition).ToList();
        try
        {
            consumer.Pause(partitions);
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(_logger, _route.Name, _index, "could not pause fetching: " + ex.Error.Reason);
        }

        // Attempts in flight finish (bounded by exec_timeout_ms); queued messages stay unfinished and are fetched again.
        StopWorkers(toPause.Select(w => w.Value));
        foreach (var (partition, worker) in toPause)
        {
            LocalRecord? filtering = null;
            if (_filters.Remove(partition, out var filter))
            {
                // It holds the stopped worker's progress: on resume a new one works from the same record.
                filter.Stop();
                filtering = filter.Record;
            }

            var successor = worker.Progress.Restart(out var seekTo);
            if (seekTo < 0 && _held.Remove(partition, out var held))
            {
                seekTo = held;
            }

            _held.Remove(partition);
            _paused[partition] = (worker, successor, seekTo, filtering);
        }

        _committer.CommitNow(consumer, _workers.Values);
        Log.MemberPauseApplied(_logger, _route.Name, _index, "paused: fetching stopped, deliveries in flight finished and committed", toPause.Count);
    }

    private void ResumeWorkers(IConsumer<byte[]?, byte[]?> consumer)
    {
        var count = 0;
        foreach (var (partition, paused) in _paused.ToList())
        {
            try
            {
                if (paused.SeekTo >= 0)
                {
                    // Messages fetched before the pause were not delivered; fetching goes back to the first of them.
                    consumer.Seek(new TopicPartitionOffset(paused.Stopped.Partition, paused.SeekTo));
                }

                consumer.Resume([paused.Stopped.Partition]);
            }
            catch (KafkaException ex)
            {
                // Tried again after the next poll.
                Log.KafkaError(_logger, _route.Name, _index, $"resume of {paused.Stopped.Partition.Topic}/{partition} failed, tried again: {ex.Error.Reason}");
                continue;
            }

            _paused.Remove(partition);
            if (paused.Filtering is { } record)
            {
                _filters[partition] = new RepeatFilter(_route.Name, paused.Stopped.Partition.Topic, partition, record, paused.Successor, _metrics, _logger, _time);
            }

            StartWorker(consumer, paused.Stopped.Partition, paused.Successor);
            if (paused.Successor.DoneBeforeRestart > 0)
            {
                Log.FinishedAheadRemembered(_logger, _route.Name, _index, paused.Stopped.Partition.Topic, partition, paused.SeekTo, "resume", paused.Successor.DoneBeforeRestart);
            }

            count++;
        }

        _held.Clear();
        if (count > 0)
        {
            Log.MemberPauseApplied(_logger, _route.Name, _index, "resumed", count);
        }
    }

    private void CompletePauseWaiters(int count)
    {
        for (var i = 0; i < count && _pauseWaiters.TryDequeue(out var waiter); i++)
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>The member stopped: nobody applies a pause any more, so nobody waits for one.</summary>
    private void PauseEnded()
    {
        _ended = true;
        _assignedPartitions = 0;
        _paused.Clear();
        _held.Clear();
        CompletePauseWaiters(int.MaxValue);
    }
}
