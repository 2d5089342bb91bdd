using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Fleet;

/// <summary>The answer to a skip or retry of a partition that another instance owns.</summary>
/// <param name="Status">200 done, 202 asked and not finished yet, 409 not that partition's failing head at its owner, 503 control topic unusable.</param>
internal sealed record ForwardedAction(int Status, string Outcome, string? Instance, FailingMessage? Message, IReadOnlyList<FailingMessage> Failing, string? Error);

/// <summary>
/// Skips and retries through any instance. The instance asked checks the owner's latest heartbeat (the <c>409</c> rule:
/// the offset must be that partition's failing head there), writes the intent to the control topic
/// (<c>kcp/intent/{group}/{route}/{partition}/{offset}/{action}</c>) and waits for the owner's result record. Each
/// instance applies an intent to a message it is retrying now; the owner named in it answers "not failing" when it is
/// not; an intent nobody answered (its owner died) stays and is applied by whichever instance retries that message later.
/// An answered intent's key is deleted.
/// </summary>
internal sealed class FleetPartitions(FleetControl fleet, RouteRegistry registry, ILogger logger, TimeProvider time)
{
    /// <summary>How long the owner waits for a skip to be done (its skip record written) before it answers "not finished yet".</summary>
    public static readonly TimeSpan SkipPatience = TimeSpan.FromSeconds(10);

    /// <summary>How long the instance asked waits for the owner's answer.</summary>
    public static readonly TimeSpan ResultPatience = TimeSpan.FromSeconds(15);

    private readonly ControlIntents _intents = new();

    /// <summary>Asks the owner of <paramref name="partition"/> of <paramref name="route"/> to skip or retry the message at <paramref name="offset"/>.</summary>
    public async Task<ForwardedAction> ForwardAsync(RouteStatus route, int partition, long offset, string action, string who, CancellationToken cancel)
    {
        var what = $"{route.Route} partition {partition} offset {offset}";
        if (fleet.Unavailable(route.Cluster) is { } unavailable)
            return new ForwardedAction(503, "", null, null, [], $"{what}: this instance does not own partition {partition} and cannot ask its owner: {unavailable}");
        var owner = fleet.View.Partitions(route.Route, route.Group, fleet.InstanceId).FirstOrDefault(p => p.Partition.Partition == partition);
        if (owner is null)
            return new ForwardedAction(409, "", null, null, [], $"{what} is not being retried; no instance owns partition {partition} now");
        var failing = owner.Partition.Failing;
        if (failing.FirstOrDefault(f => f.Offset == offset) is not { } message)
        {
            var now = failing.Count == 0 ? "none is being retried now" : "being retried now: offset " + string.Join(", ", failing.Select(f => f.Offset));
            return new ForwardedAction(409, "", owner.Instance, null, failing, $"{what} is not being retried at its owner, instance {owner.Instance}; {now}");
        }

        var (id, answer) = _intents.Ask();
        try
        {
            var intent = new ControlRecord
            {
                Type = ControlRecord.PartitionIntent, Instance = fleet.InstanceId, By = who, At = time.GetUtcNow(), Route = route.Route, Group = route.Group,
                Partition = partition, Offset = offset, Action = action, Id = id, Target = owner.Instance,
            };
            try
            {
                await fleet.WriteAsync(route.Cluster, ControlKeys.PartitionIntent(route.Group, route.Route, partition, offset, action), intent).ConfigureAwait(false);
            }
            catch (FleetUnavailableException ex)
            {
                return new ForwardedAction(503, "", owner.Instance, message, failing, $"{what}: {ex.Message}");
            }

            try
            {
                var result = await answer.WaitAsync(ResultPatience, time, cancel).ConfigureAwait(false);
                return result.Outcome switch
                {
                    "not_failing" => new ForwardedAction(409, result.Outcome, result.Instance, null, result.Failing ?? [],
                        $"{what} is not being retried at its owner, instance {result.Instance}; " + (result.Failing is { Count: > 0 } f ? "being retried now: offset " + string.Join(", ", f.Select(x => x.Offset)) : "none is being retried now")),
                    "already_skipped" => new ForwardedAction(409, result.Outcome, result.Instance, result.Message, [], $"{what} is already being skipped (asked earlier at instance {result.Instance})"),
                    "skip_pending" => new ForwardedAction(202, "skip requested; not finished yet", result.Instance, result.Message ?? message, [], null),
                    _ => new ForwardedAction(200, result.Outcome == "retrying" ? "retrying now" : result.Outcome!, result.Instance, result.Message ?? message, [], null),
                };
            }
            catch (TimeoutException)
            {
                return new ForwardedAction(202, $"{action} asked of instance {owner.Instance}, not answered yet; whichever instance retries that message applies it", owner.Instance, message, [], null);
            }
        }
        finally
        {
            _intents.StopWaiting(id);
        }
    }

    /// <summary>A partition intent read from <paramref name="cluster"/>'s control topic.</summary>
    internal void Intent(string cluster, string key, ControlRecord intent, bool catchingUp)
    {
        _intents.Add(cluster, key, intent);
        if (!catchingUp)
            ApplyPending();
    }

    /// <summary>A result read from a control topic: answers the request waiting for it, if it was asked here.</summary>
    internal void Result(ControlRecord result) => _intents.Answered(result);

    /// <summary>A partition intent's key deleted: it was answered.</summary>
    internal void Forget(string key) => _intents.Forget(key);

    /// <summary>Applies every pending intent that this instance can: to a message it retries now, or "not failing" when it was asked as the owner.</summary>
    internal void ApplyPending()
    {
        var due = _intents.Take(intent => registry.Config.Routes.Any(r => r.Name == intent.Route && r.Group == intent.Group)
            && (intent.Target == fleet.InstanceId || registry.Failing.Find(intent.Route!, intent.Partition!.Value, intent.Offset!.Value) is not null));
        foreach (var (key, cluster, intent) in due)
            _ = AnswerAsync(key, cluster, intent);
    }

    private async Task AnswerAsync(string key, string cluster, ControlRecord intent)
    {
        var (route, partition, offset) = (intent.Route!, intent.Partition!.Value, intent.Offset!.Value);
        var entry = registry.Failing.Find(route, partition, offset);
        if (entry is null && intent.Target != fleet.InstanceId)
        {
            // No longer retried here since it was taken (finished, or its partition moved): left to whoever retries it.
            _intents.Release(key);
            return;
        }

        string outcome;
        FailingMessage? message = entry?.Snapshot();
        if (entry is null)
        {
            outcome = "not_failing";
        }
        else if (intent.Action == "retry")
        {
            Log.RetryNowRequested(logger, route, entry.Record.Topic, partition, offset, intent.By ?? "?");
            entry.RetryNow();
            outcome = "retrying";
        }
        else if (!entry.Skip(intent.By ?? "?"))
        {
            outcome = "already_skipped";
        }
        else
        {
            var started = time.GetTimestamp();
            while (registry.Failing.Find(route, partition, offset) is not null && time.GetElapsedTime(started) < SkipPatience)
                await Task.Delay(TimeSpan.FromMilliseconds(20), time).ConfigureAwait(false);
            outcome = registry.Failing.Find(route, partition, offset) is null ? "skipped" : "skip_pending";
        }

        Log.FleetPartitionActionApplied(logger, intent.Action!, route, partition, offset, intent.By ?? "?", intent.Instance ?? "?", outcome);
        var result = new ControlRecord
        {
            Type = ControlRecord.Result, Instance = fleet.InstanceId, At = time.GetUtcNow(), Id = intent.Id, Outcome = outcome, Route = route, Group = intent.Group,
            Partition = partition, Offset = offset, Message = message,
            Failing = entry is null ? [.. registry.Failing.All(route).Where(f => f.Partition == partition)] : null,
        };
        try
        {
            await fleet.WriteAsync(cluster, ControlKeys.Result(intent.Id!), result).ConfigureAwait(false);
            await fleet.WriteAsync(cluster, key, null).ConfigureAwait(false);
        }
        catch (FleetUnavailableException)
        {
            // The asker answers 202; the intent stays and is answered again once the topic can be written.
            _intents.Release(key);
        }
    }
}
