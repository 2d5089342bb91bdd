using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Fleet;

/// <summary>The answer to a seek of a partition that this instance does not own.</summary>
/// <param name="Status">200 moved, 202 asked and not answered yet, 400/409 refused at the owner, 503 control topic unusable.</param>
internal sealed record ForwardedSeek(int Status, IReadOnlyList<SeekMove> Moves, string? Instance, string? Error);

/// <summary>
/// Seeks of one partition through any instance. The instance asked writes the intent to the control topic
/// (<c>kcp/intent/{group}/{route}/{partition}/seek/{id}</c>) naming the owner its heartbeat shows, and waits for the
/// result. Whichever instance owns that partition when it reads the intent applies it with the same checks as a local
/// seek (<see cref="SeekRegistry"/>: inside the log, no unfinished message passed without force, each passed one
/// recorded as skipped with force) and writes the result: the move (from/to) or the refusal and why. An intent of a
/// partition that nobody owns stays on the topic until an instance gets the partition and applies it. An answered
/// intent's key is deleted. A seek of several partitions is not sent: it cannot be all or nothing across instances.
/// </summary>
internal sealed class FleetSeeks(FleetControl fleet, RouteRegistry registry, ILogger logger, TimeProvider time)
{
    /// <summary>How long the instance asked waits for the owner's answer (the owner lets in-flight attempts finish first).</summary>
    public static readonly TimeSpan ResultPatience = TimeSpan.FromSeconds(30);

    // The owner's own seek: as long as the admin endpoint's.
    private static readonly TimeSpan ApplyPatience = TimeSpan.FromSeconds(120);

    private readonly ControlIntents _intents = new();

    /// <summary>
    /// Asks the owner of <paramref name="target"/>'s partition of <paramref name="route"/> (<paramref name="owner"/>, or
    /// null when no instance owns it now) to seek it.
    /// </summary>
    public async Task<ForwardedSeek> ForwardAsync(RouteStatus route, SeekTarget target, string? owner, string who, CancellationToken cancel)
    {
        var partition = target.Partition!.Value;
        var what = $"seek of {route.Route} partition {partition}";
        if (fleet.Unavailable(route.Cluster) is { } unavailable)
            return new ForwardedSeek(503, [], owner, $"{what}: this instance does not own partition {partition} and cannot ask its owner: {unavailable}; nothing moved");

        var (id, answer) = _intents.Ask();
        try
        {
            var intent = new ControlRecord
            {
                Type = ControlRecord.PartitionIntent, Instance = fleet.InstanceId, By = who, At = time.GetUtcNow(), Route = route.Route, Group = route.Group,
                Partition = partition, Action = "seek", Id = id, Target = owner,
                Seek = new SeekIntent(target.Offset, target.Timestamp, target.Position, target.Force),
            };
            try
            {
                await fleet.WriteAsync(route.Cluster, ControlKeys.SeekIntent(route.Group, route.Route, partition, id), intent).ConfigureAwait(false);
            }
            catch (FleetUnavailableException ex)
            {
                return new ForwardedSeek(503, [], owner, $"{what}: {ex.Message}; nothing moved");
            }

            try
            {
                var result = await answer.WaitAsync(ResultPatience, time, cancel).ConfigureAwait(false);
                return result.Outcome == "moved"
                    ? new ForwardedSeek(200, result.Moves ?? [], result.Instance, null)
                    : new ForwardedSeek(result.Code ?? 409, [], result.Instance, $"{what} refused at its owner, instance {result.Instance}: {result.Error}");
            }
            catch (TimeoutException)
            {
                var asked = owner is null ? "no instance owns partition " + partition + " now" : $"asked of instance {owner}, not answered within {ResultPatience.TotalSeconds:0} s";
                return new ForwardedSeek(202, [], owner, $"{what}: {asked}; the instance that owns it next applies it (or refuses it, with the same checks); to withdraw it, delete the control topic's key {ControlKeys.SeekIntent(route.Group, route.Route, partition, id)}");
            }
        }
        finally
        {
            _intents.StopWaiting(id);
        }
    }

    /// <summary>A seek intent read from <paramref name="cluster"/>'s control topic.</summary>
    internal void Intent(string cluster, string key, ControlRecord intent, bool catchingUp)
    {
        _intents.Add(cluster, key, intent);
        if (!catchingUp)
            ApplyPending();
    }

    /// <summary>A result read from a control topic: answers the request waiting for it, if it was asked here.</summary>
    internal void Result(ControlRecord result) => _intents.Answered(result);

    /// <summary>A seek intent's key deleted: it was answered.</summary>
    internal void Forget(string key) => _intents.Forget(key);

    /// <summary>Applies every pending seek of a partition that this instance owns now, in the topic's order.</summary>
    internal void ApplyPending()
    {
        var due = _intents.Take(intent => registry.Config.Routes.Any(r => r.Name == intent.Route && r.Group == intent.Group)
            && registry.Metrics.Observations.Partitions(intent.Route!).Any(p => p.Partition == intent.Partition));
        if (due.Count > 0)
            _ = AnswerAllAsync(due);
    }

    // One after another: two seeks of one partition apply in the order they were asked.
    private async Task AnswerAllAsync(List<(string Key, string Cluster, ControlRecord Intent)> due)
    {
        foreach (var (key, cluster, intent) in due)
            await AnswerAsync(key, cluster, intent).ConfigureAwait(false);
    }

    private async Task AnswerAsync(string key, string cluster, ControlRecord intent)
    {
        var (route, partition, seek) = (intent.Route!, intent.Partition!.Value, intent.Seek!);
        var by = $"{intent.By ?? "?"} through instance {intent.Instance ?? "?"}";
        var target = new SeekTarget(partition, seek.Offset, seek.Timestamp, seek.Position, seek.Force, by);
        ControlRecord result;
        try
        {
            var moves = await registry.Seeks.SeekAsync(route, target).WaitAsync(ApplyPatience, time).ConfigureAwait(false);
            result = Result(intent, "moved", moves, null, null);
        }
        catch (SeekRefusedException ex) when (ex.NotOwnedHere)
        {
            // It moved away meanwhile: its next owner applies it.
            _intents.Release(key);
            return;
        }
        catch (SeekRefusedException ex)
        {
            result = Result(intent, "refused", null, ex.Status, ex.Message.ReplaceLineEndings(" "));
        }
        catch (Confluent.Kafka.KafkaException ex)
        {
            result = Result(intent, "refused", null, 400, ex.Message.ReplaceLineEndings(" ") + "; nothing moved");
        }
        catch (TimeoutException)
        {
            result = Result(intent, "refused", null, 503, $"the seek was not done within {ApplyPatience.TotalSeconds:0} s");
        }

        var moved = result.Moves is { Count: > 0 } m ? $"moved from {m[0].From} to {m[0].To}" : "refused: " + result.Error;
        Log.FleetSeekApplied(logger, route, partition, intent.By ?? "?", intent.Instance ?? "?", moved);
        try
        {
            await fleet.WriteAsync(cluster, ControlKeys.Result(intent.Id!), result).ConfigureAwait(false);
            await fleet.WriteAsync(cluster, key, null).ConfigureAwait(false);
        }
        catch (FleetUnavailableException)
        {
            // Applied (or refused) here; the asker answers 202. The key stays until the topic can be written: forget it
            // here so that it is not applied twice by this instance, and delete it at the next chance.
            _ = DeleteLaterAsync(cluster, key);
        }
    }

    private async Task DeleteLaterAsync(string cluster, string key)
    {
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(3), time).ConfigureAwait(false);
            try
            {
                await fleet.WriteAsync(cluster, key, null).ConfigureAwait(false);
                return;
            }
            catch (FleetUnavailableException)
            {
                // Tried again.
            }
        }
    }

    private ControlRecord Result(ControlRecord intent, string outcome, IReadOnlyList<SeekMove>? moves, int? code, string? error) => new()
    {
        Type = ControlRecord.Result, Instance = fleet.InstanceId, At = time.GetUtcNow(), Id = intent.Id, Outcome = outcome, Route = intent.Route, Group = intent.Group,
        Partition = intent.Partition, Moves = moves, Code = code, Error = error,
    };
}
