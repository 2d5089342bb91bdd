using System.Collections.Concurrent;
using Confluent.Kafka;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The operator's seeks of a route member: asked from any thread, checked and applied on the member's consumer thread.
/// Each seek's plan is reported and the loop waits (bounded) for the decision of the whole seek; nothing is fetched
/// meanwhile, so what was checked still holds when the partitions move. Moving a partition stops its worker (attempts in
/// flight finish) and restarts it where the seek goes (<see cref="PartitionSession.MoveBySeek"/>).
/// </summary>
internal sealed class MemberSeeks(MemberParts parts, Action<IReadOnlyCollection<PartitionSession>> stopWorkers, TimeSpan metadataTimeout)
{
    private readonly ConcurrentQueue<SeekRequest> _requests = new();
    private volatile bool _ended;

    /// <summary>True while no seek waits for the consumer thread.</summary>
    public bool IsEmpty => _requests.IsEmpty;

    /// <summary>Asks the consume loop to check a seek (any thread); it then waits for <paramref name="decision"/> and moves or not.</summary>
    public Task<SeekPlan> RequestAsync(SeekTarget target, Task<bool> decision)
    {
        var plan = new TaskCompletionSource<SeekPlan>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Enqueue(new SeekRequest(target, decision, plan));
        if (_ended)
        {
            // The loop is gone (or going): it owns nothing.
            plan.TrySetResult(NothingToSeek());
        }

        return plan.Task;
    }

    /// <summary>The member stopped: seeks still asked for find nothing to move.</summary>
    public void End()
    {
        _ended = true;
        while (_requests.TryDequeue(out var request))
        {
            request.Plan.TrySetResult(NothingToSeek());
        }
    }

    /// <summary>Checks and applies the seeks asked for; on the consumer thread.</summary>
    public void Apply(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions)
    {
        while (_requests.TryDequeue(out var request))
        {
            List<(PartitionSession Session, long Fetched, SeekMove Move)> planned;
            try
            {
                planned = Plan(consumer, sessions, request.Target);
            }
            catch (SeekRefusedException refused)
            {
                request.Plan.TrySetResult(new SeekPlan(parts.Member, [.. sessions.Keys], [], refused, null, Task.FromResult<IReadOnlyList<SeekMove>>([])));
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
            if (request.Target.Partition is { } only && !sessions.ContainsKey(only))
            {
                topicPartitions = TopicPartitionsOf(consumer);
            }

            var applied = new TaskCompletionSource<IReadOnlyList<SeekMove>>(TaskCreationOptions.RunContinuationsAsynchronously);
            request.Plan.TrySetResult(new SeekPlan(parts.Member, [.. sessions.Keys], [.. planned.Select(p => p.Move)], null, topicPartitions, applied.Task));
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
                applied.TrySetResult([.. planned.Select(p => Move(consumer, p.Session, p.Fetched, p.Move, request.Target))]);
            }
#pragma warning disable CA1031 // As above.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                applied.TrySetException(ex);
            }
        }
    }

    private SeekPlan NothingToSeek() => new(parts.Member, [], [], null, null, Task.FromResult<IReadOnlyList<SeekMove>>([]));

    /// <summary>Where each selected partition would go; throws <see cref="SeekRefusedException"/> when one may not move.</summary>
    private static List<(PartitionSession Session, long Fetched, SeekMove Move)> Plan(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions, SeekTarget target)
    {
        var planned = new List<(PartitionSession, long, SeekMove)>();
        var refusals = new List<string>();
        foreach (var (number, session) in sessions.OrderBy(s => s.Key))
        {
            if (target.Partition is { } only && only != number)
            {
                continue;
            }

            var (move, fetched, refusal) = session.PlanSeek(consumer, target);
            if (refusal is not null)
            {
                refusals.Add(refusal);
            }
            else
            {
                planned.Add((session, fetched, move!));
            }
        }

        if (refusals.Count > 0)
        {
            throw new SeekRefusedException(409, string.Join("; ", refusals));
        }

        return planned;
    }

    /// <summary>Moves one partition as planned (the decision was to go); the worker is current, nothing was fetched since the plan.</summary>
    private SeekMove Move(IConsumer<byte[]?, byte[]?> consumer, PartitionSession session, long fetched, SeekMove move, SeekTarget target)
    {
        stopWorkers([session]);
        session.MoveBySeek(consumer, fetched, move, target);
        if (move.To <= move.From)
        {
            Log.PartitionSeek(parts.Logger, parts.Route.Name, parts.Member, session.Partition.Topic, move.Partition, move.From, move.To);
        }
        else
        {
            Log.PartitionSeekForward(parts.Logger, parts.Route.Name, parts.Member, session.Partition.Topic, move.Partition, move.From, move.To, target.By ?? "an operator", move.Skipped.Count, move.Unread);
        }

        return move;
    }

    private IReadOnlyList<int>? TopicPartitionsOf(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var metadata = admin.GetMetadata(parts.Route.Topic, metadataTimeout);
            return [.. metadata.Topics.SelectMany(t => t.Partitions).Select(p => p.PartitionId).Order()];
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    private sealed record SeekRequest(SeekTarget Target, Task<bool> Decision, TaskCompletionSource<SeekPlan> Plan);
}
