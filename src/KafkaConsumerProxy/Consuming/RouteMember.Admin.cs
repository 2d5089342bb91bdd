using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What the member tells the admin endpoint about its partitions: offsets, lag and the oldest unfinished message,
/// published from the consume loop about once a second (every value read here is local to the client: no request).
/// </summary>
internal sealed partial class RouteMember
{
    private static readonly TimeSpan PublishInterval = TimeSpan.FromSeconds(1);

    // On the consumer thread only.
    private readonly Dictionary<int, (long Committed, long High)> _atAssignment = [];
    private readonly Dictionary<int, (long Offset, DateTimeOffset Since)> _oldest = [];
    private readonly HashSet<int> _published = [];
    private long _lastPublish;
    private readonly ConcurrentQueue<SeekRequest> _seeks = new();

    // Consumer thread only: partitions a forced seek moved whose passed messages are being skipped, and those of them
    // whose fetching is to jump on to the target.
    private readonly Dictionary<int, SeekSkip> _seekSkips = [];
    private readonly HashSet<int> _seekJumps = [];
    private volatile bool _seekEnded;

    private RouteObservations Observations => _metrics.Observations;

    private void NoteAssigned(int partition, Offset committed, LogBounds? bounds) =>
        _atAssignment[partition] = (committed.IsSpecial ? -1 : committed.Value, bounds?.High ?? -1);

    private void PublishPartitions(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (!_seeks.IsEmpty)
        {
            ApplySeeks(consumer);
        }

        if (_seekJumps.Count > 0)
        {
            JumpPastSeekSkips(consumer);
        }

        if (_lastPublish != 0 && _time.GetElapsedTime(_lastPublish) < PublishInterval)
        {
            return;
        }

        _lastPublish = _time.GetTimestamp();
        var now = _time.GetUtcNow();
        foreach (var (number, worker) in _workers)
        {
            long position = -1, high = -1;
            try
            {
                var at = consumer.Position(worker.Partition);
                position = at.IsSpecial ? -1 : at.Value;
                var marks = consumer.GetWatermarkOffsets(worker.Partition);
                high = marks.High.IsSpecial ? -1 : marks.High.Value;
            }
            catch (KafkaException)
            {
                // Not known yet: shown as -1.
            }

            var assigned = _atAssignment.GetValueOrDefault(number, (-1, -1));
            var committed = _committer.CommittedOf(number) ?? assigned.Committed;
            if (high < 0)
            {
                high = assigned.High;
            }

            var oldest = worker.Progress.OldestUnfinished;
            DateTimeOffset? since = null;
            if (oldest >= 0)
            {
                since = _oldest.TryGetValue(number, out var seen) && seen.Offset == oldest ? seen.Since : now;
                _oldest[number] = (oldest, since.Value);
            }
            else
            {
                _oldest.Remove(number);
            }

            Observations.Publish(new PartitionView(_route.Name, worker.Partition.Topic, number, _index, position, committed, high,
                worker.Progress.Pending, oldest, since, worker.Uncommitted, worker.WaitingForCommit));
            _published.Add(number);
        }

        _published.RemoveWhere(p =>
        {
            if (_workers.ContainsKey(p))
            {
                return false;
            }

            Observations.Unpublish(_route.Name, p, _index);
            _oldest.Remove(p);
            _atAssignment.Remove(p);
            return true;
        });
    }

    private void UnpublishAll()
    {
        foreach (var p in _published)
        {
            Observations.Unpublish(_route.Name, p, _index);
        }

        _published.Clear();
        Observations.SetJoined(_route.Name, _index, false);
        Seeks.Unregister(_route.Name, _index);
        _seekEnded = true;
        while (_seeks.TryDequeue(out var request))
        {
            request.Plan.TrySetResult(NothingToSeek());
        }

        _seekSkips.Clear();
        _seekJumps.Clear();
        _oldest.Clear();
        _atAssignment.Clear();
    }

    /// <summary>Asks the consume loop to check a seek (any thread); it then waits for <paramref name="decision"/> and moves or not.</summary>
    private Task<SeekPlan> RequestSeek(SeekTarget target, Task<bool> decision)
    {
        var plan = new TaskCompletionSource<SeekPlan>(TaskCreationOptions.RunContinuationsAsynchronously);
        _seeks.Enqueue(new SeekRequest(target, decision, plan));
        if (_seekEnded)
        {
            // The loop is gone (or going): it owns nothing.
            plan.TrySetResult(NothingToSeek());
        }

        return plan.Task;
    }

    private SeekPlan NothingToSeek() => new(_index, [], [], null, null, Task.FromResult<IReadOnlyList<SeekMove>>([]));

    /// <summary>
    /// Checks each seek on the consumer thread, reports the plan and waits (bounded) for the decision of the whole seek;
    /// nothing is fetched meanwhile, so what was checked still holds when the partitions move. Moving a partition stops
    /// its worker (attempts in flight finish), discards the local record and drops the repeat filter, so replayed
    /// messages are delivered, not filtered. Unfinished messages a forward seek passes (only with force) are fetched
    /// again from the oldest of them and skipped with a skip record of kind <c>seek</c>; then fetching jumps to the target.
    /// </summary>
    private void ApplySeeks(IConsumer<byte[]?, byte[]?> consumer)
    {
        while (_seeks.TryDequeue(out var request))
        {
            List<PlannedSeek> planned;
            try
            {
                planned = PlanSeek(consumer, request.Target);
            }
            catch (SeekRefusedException refused)
            {
                request.Plan.TrySetResult(new SeekPlan(_index, [.. _workers.Keys], [], refused, null, Task.FromResult<IReadOnlyList<SeekMove>>([])));
                continue;
            }
#pragma warning disable CA1031 // Reported to the operator who asked; the member goes on.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                request.Plan.TrySetException(ex);
                continue;
            }

            IReadOnlyList<int>? topicPartitions = null;
            if (request.Target.Partition is { } only && !_workers.ContainsKey(only))
            {
                topicPartitions = TopicPartitionsOf(consumer);
            }

            var applied = new TaskCompletionSource<IReadOnlyList<SeekMove>>(TaskCreationOptions.RunContinuationsAsynchronously);
            request.Plan.TrySetResult(new SeekPlan(_index, [.. _workers.Keys], [.. planned.Select(p => p.Move)], null, topicPartitions, applied.Task));
            var go = false;
            try
            {
                go = request.Decision.Wait(SeekRegistry.PlanPatience + TimeSpan.FromSeconds(15)) && request.Decision.Result;
            }
            catch (AggregateException)
            {
                // No decision: nothing moves.
            }

            if (!go)
            {
                applied.TrySetResult([]);
                continue;
            }

            try
            {
                applied.TrySetResult([.. planned.Select(p => MoveBySeek(consumer, p, request.Target))]);
            }
#pragma warning disable CA1031 // As above.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                applied.TrySetException(ex);
            }
        }

        _lastPublish = 0;
    }

    /// <summary>Where each selected partition would go; throws <see cref="SeekRefusedException"/> when one may not move.</summary>
    private List<PlannedSeek> PlanSeek(IConsumer<byte[]?, byte[]?> consumer, SeekTarget target)
    {
        var planned = new List<PlannedSeek>();
        var refusals = new List<string>();
        foreach (var (number, worker) in _workers.OrderBy(w => w.Key))
        {
            if (target.Partition is { } only && only != number)
            {
                continue;
            }

            var partition = worker.Partition;
            long to;
            try
            {
                to = Resolve(consumer, partition, target);
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new SeekRefusedException(400, ex.Message.Split(" (Parameter", 2)[0]);
            }

            var at = consumer.Position(partition);
            var fetched = at.IsSpecial ? -1 : at.Value;
            var (unfinished, finishedAhead) = worker.Progress.Snapshot();
            var from = worker.Progress.OldestUnfinished;
            if (from < 0)
            {
                from = fetched >= 0 ? fetched : worker.Progress.CommitPosition;
            }

            // Messages fetched but held by a pause under way were never tracked: as unfinished as the tracked ones.
            var held = HeldFrom(number);
            if (held >= 0 && (from < 0 || held < from))
            {
                from = held;
            }

            var passed = unfinished.Where(o => o < to).ToList();
            if (held >= 0)
            {
                var tracked = Math.Max(unfinished.Length > 0 ? unfinished[^1] : -1, finishedAhead.Length > 0 ? finishedAhead[^1] : -1);
                for (var o = Math.Max(held, tracked + 1); o < Math.Min(to, fetched); o++)
                {
                    passed.Add(o);
                }
            }

            if (passed.Count > 0 && !target.Force)
            {
                refusals.Add($"partition {number}: offsets {DescribeOffsets(passed)} are not finished (delivered or skipped); a seek to {to} would pass them: " +
                    "seek to " + from + " or earlier, or give \"force\": true to record each of them as skipped (kind seek)");
                continue;
            }

            var unread = to > from ? Math.Max(0, to - Math.Max(from, fetched)) : 0;
            planned.Add(new PlannedSeek(worker, fetched, new SeekMove(partition.Topic, number, _index, from, to, target.Force ? passed : [], unread)));
        }

        if (refusals.Count > 0)
        {
            throw new SeekRefusedException(409, string.Join("; ", refusals));
        }

        return planned;
    }

    /// <summary>Moves one partition as planned (the decision was to go); the worker is current, nothing was fetched since the plan.</summary>
    private SeekMove MoveBySeek(IConsumer<byte[]?, byte[]?> consumer, PlannedSeek planned, SeekTarget target)
    {
        var (worker, fetched, move) = planned;
        var number = move.Partition;
        var partition = worker.Partition;
        StopWorkers([worker]);
        if (_filters.Remove(number, out var filter))
        {
            filter.Stop();
        }

        _seekSkips.Remove(number);
        var progress = new PartitionProgress(_recordFiles.TryGetValue(number, out var record) ? record : null, _route.Offsets.MessageDeliveryGuarantees, -1);
        record?.Discard();
        var start = move.To;
        if (move.Skipped.Count > 0)
        {
            // Fetched again from the oldest passed message: each passed one is skipped with its record, those
            // finished ahead of it are not delivered twice, and at the fetch position fetching jumps to the target.
            var (_, finishedAhead) = worker.Progress.Snapshot();
            start = move.From;
            _seekSkips[number] = new SeekSkip(move.From, move.To, fetched < 0 ? move.To : Math.Min(fetched, move.To), [.. finishedAhead], new SeekPass(move.To, target.By ?? "an operator"));
        }

        progress.CommitFrom(start);
        consumer.Seek(new TopicPartitionOffset(partition, start));
        consumer.Resume([partition]);
        StartWorker(consumer, partition, progress);
        _oldest.Remove(number);
        if (move.To <= move.From)
        {
            Log.PartitionSeek(_logger, _route.Name, _index, partition.Topic, number, move.From, move.To);
        }
        else
        {
            Log.PartitionSeekForward(_logger, _route.Name, _index, partition.Topic, number, move.From, move.To, target.By ?? "an operator", move.Skipped.Count, move.Unread);
        }

        return move;
    }

    /// <summary>
    /// The consumer thread's check of each fetched message of a partition a forced seek moved: true when it is not to be
    /// dispatched as it is; <paramref name="passed"/> is set when it is to be skipped (kind seek) instead of delivered.
    /// </summary>
    private bool HeldBySeek(int partition, long offset, PartitionWorker worker, out SeekPass? passed)
    {
        passed = null;
        if (!_seekSkips.TryGetValue(partition, out var skip))
        {
            return false;
        }

        if (offset >= skip.To)
        {
            _seekSkips.Remove(partition);
            return false;
        }

        if (offset < skip.From)
        {
            // Before the seek's start (a client's leftover): finished already.
            return true;
        }

        if (offset >= skip.FetchedTo)
        {
            // Never fetched before the seek: the seek passes it unread; fetching moves on to the target.
            _seekJumps.Add(partition);
            return true;
        }

        if (skip.FinishedAhead.Contains(offset))
        {
            // Delivered before the seek: counted finished, not delivered again.
            worker.Progress.Track(offset);
            worker.Progress.FinishRepeat(offset);
            return true;
        }

        passed = skip.Pass;
        return false;
    }

    /// <summary>Moves partitions whose passed messages were fetched again on to their seek's target.</summary>
    private void JumpPastSeekSkips(IConsumer<byte[]?, byte[]?> consumer)
    {
        foreach (var partition in _seekJumps)
        {
            if (_seekSkips.TryGetValue(partition, out var skip) && _workers.TryGetValue(partition, out var worker))
            {
                try
                {
                    consumer.Seek(new TopicPartitionOffset(worker.Partition, skip.To));
                }
                catch (KafkaException ex)
                {
                    Log.KafkaError(_logger, _route.Name, _index, $"seek of {worker.Partition.Topic}/{partition} to {skip.To} failed: {ex.Error.Reason}");
                }
            }
        }

        _seekJumps.Clear();
    }

    /// <summary>Where fetching of a partition that an operator's pause holds resumes (its first message not dispatched); -1: not held.</summary>
    private long HeldFrom(int partition) =>
        _held.TryGetValue(partition, out var held) ? held
        : _paused.TryGetValue(partition, out var paused) ? paused.SeekTo
        : -1;

    private IReadOnlyList<int>? TopicPartitionsOf(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var metadata = admin.GetMetadata(_route.Topic, LogBoundsTimeout);
            return [.. metadata.Topics.SelectMany(t => t.Partitions).Select(p => p.PartitionId).Order()];
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    /// <summary>"22-24, 27" for a sorted list of offsets.</summary>
    internal static string DescribeOffsets(IReadOnlyList<long> offsets)
    {
        var parts = new List<string>();
        for (var i = 0; i < offsets.Count;)
        {
            var j = i;
            while (j + 1 < offsets.Count && offsets[j + 1] == offsets[j] + 1)
            {
                j++;
            }

            parts.Add(j == i ? offsets[i].ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{offsets[i]}-{offsets[j]}"));
            i = j + 1;
        }

        return string.Join(", ", parts);
    }

    private static long Resolve(IConsumer<byte[]?, byte[]?> consumer, TopicPartition partition, SeekTarget target)
    {
        var marks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5));
        if (target.Offset is { } offset)
        {
            if (offset < marks.Low.Value || offset > marks.High.Value)
            {
                throw new ArgumentOutOfRangeException(nameof(target), $"offset {offset} is outside partition {partition.Partition.Value}'s log {marks.Low.Value}..{marks.High.Value}");
            }

            return offset;
        }

        if (target.Timestamp is { } time)
        {
            var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(partition, new Timestamp(time))], TimeSpan.FromSeconds(5)).Single().Offset;
            return found.IsSpecial ? marks.High.Value : found.Value;
        }

        return target.Position == "earliest" ? marks.Low.Value : marks.High.Value;
    }

    private sealed record SeekRequest(SeekTarget Target, Task<bool> Decision, TaskCompletionSource<SeekPlan> Plan);

    private sealed record PlannedSeek(PartitionWorker Worker, long Fetched, SeekMove Move);

    /// <summary>A forced seek's passage over unfinished messages: those in From..FetchedTo not finished ahead are skipped.</summary>
    private sealed record SeekSkip(long From, long To, long FetchedTo, HashSet<long> FinishedAhead, SeekPass Pass);
}
