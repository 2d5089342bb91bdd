using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Routes;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// <c>POST /api/v1/routes/{route}/seek</c> with a <c>fleet</c> section: a seek of one partition that another instance
/// owns goes to it through the control topic (<see cref="FleetSeeks"/>) and its answer is this one's; a seek of every
/// partition while other instances own some is refused (409), since it could not be all or nothing across instances.
/// </summary>
internal static class FleetSeek
{
    /// <summary>Who owns what a seek asks for, when it is not (only) this instance.</summary>
    /// <param name="Spanning">A seek of every partition: each partition and its owner (this instance's too), when others own some.</param>
    /// <param name="Owner">A seek of one partition: the instance that owns it, as its heartbeat shows; null when none does.</param>
    internal sealed record Owners(IReadOnlyList<(int Partition, string Instance)> Spanning, string? Owner);

    /// <summary>Null when this instance does the seek itself (it owns the partition, or no other instance owns any named).</summary>
    public static Owners? Remote(RouteRegistry registry, FleetControl fleet, string route, SeekTarget target)
    {
        var status = registry.Find(route)!;
        var mine = registry.Metrics.Observations.Partitions(route).Select(p => p.Partition).ToHashSet();
        var others = fleet.View.Partitions(route, status.Group, fleet.InstanceId).Where(r => !mine.Contains(r.Partition.Partition)).ToList();
        if (target.Partition is { } only)
        {
            return mine.Contains(only) || others.FirstOrDefault(o => o.Partition.Partition == only) is not { } owner ? null : new Owners([], owner.Instance);
        }

        return others.Count == 0 ? null
            : new Owners([.. mine.Select(p => (p, fleet.InstanceId)).Concat(others.Select(o => (o.Partition.Partition, o.Instance))).OrderBy(p => p.Item1)], null);
    }

    public static async Task<IResult> ForwardAsync(RouteRegistry registry, FleetControl fleet, string route, SeekTarget target, Owners owners, string who, CancellationToken cancel)
    {
        if (owners.Spanning.Count > 0)
        {
            var named = string.Join(", ", owners.Spanning.Select(o => $"partition {o.Partition}: instance {o.Instance}" + (o.Instance == fleet.InstanceId ? " (this one)" : "")));
            return Results.Json(new ControlError($"route {route}: a seek of every partition moves all of them or none, which cannot be ensured across instances; its partitions are owned by {named}. "
                + "Seek each partition by itself (\"partition\": p), any instance sends it to the owner; nothing moved"), ControlJson.Options, statusCode: StatusCodes.Status409Conflict);
        }

        var answer = await fleet.Seeks.ForwardAsync(registry.Find(route)!, target, owners.Owner, who, cancel).ConfigureAwait(false);
        return answer.Status switch
        {
            StatusCodes.Status200OK => Results.Json(new { route, moved = answer.Moves, instance = answer.Instance }, ControlJson.Options),
            StatusCodes.Status202Accepted => Results.Json(new { route, moved = answer.Moves, instance = answer.Instance, detail = answer.Error }, ControlJson.Options, statusCode: StatusCodes.Status202Accepted),
            _ => Results.Json(new ControlError(answer.Error!), ControlJson.Options, statusCode: answer.Status),
        };
    }
}
