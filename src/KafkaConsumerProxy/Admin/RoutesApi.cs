using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The <c>/api/v1</c> API, mapped onto the control socket and the admin endpoint alike, all of it calling
/// <see cref="RouteRegistry"/>. The status, partition, seek and skip-record parts are <see cref="AdminApi"/>'s; here:
/// <list type="bullet">
/// <item><c>POST /api/v1/routes/{route}/{pause|resume|stop|start|restart}</c>: one route.</item>
/// <item><c>POST /api/v1/routes/{action}?topic=T[&amp;group=G]</c> or <c>?all=true</c>: the old service's selectors.</item>
/// <item><c>/api/v1/routes/{route}/replays</c>: range replays (<see cref="ReplaysApi"/>).</item>
/// <item><c>GET /api/v1/routes/{route}/history</c>: delivered and failed per second and lag over the last 15 minutes,
/// one point per 10 s (<see cref="RouteHistory"/>), for the dashboard's sparklines.</item>
/// <item><c>POST /api/v1/reload</c>, <c>GET /api/v1/reload</c>: reload now; the last reload results.</item>
/// </list>
/// </summary>
internal static class RoutesApi
{
    /// <param name="fleet">The fleet's control plane, through which route actions go to every instance; null without a <c>fleet</c> section.</param>
    public static void Map(IEndpointRouteBuilder app, RouteRegistry registry, Func<HttpContext, string> who, FleetControl? fleet)
    {
        var api = app.MapGroup("/api/v1");

        // The routes list and a route's detail (with partitions and failing messages), partition actions, skip records, audit.
        AdminApi.Map(api, registry, who, fleet);
        ReplaysApi.Map(api, registry, who);
        api.MapGet("/routes/{route}/history", (string route) => registry.Find(route) is null
            ? Results.Json(new ControlError($"no route named '{route}'"), ControlJson.Options, statusCode: StatusCodes.Status404NotFound)
            : Results.Json(new RouteHistoryAnswer(route, RouteHistory.Step.TotalSeconds, RouteHistory.Window.TotalSeconds, registry.Metrics.Observations.HistoryOf(route)), ControlJson.Options));
        api.MapPost("/routes/{route}/{action}", (string route, string action, HttpContext context) =>
            OperateAsync(registry, fleet, action, new RouteSelector(Route: route), who(context)));
        api.MapPost("/routes/{action}", (string action, string? topic, string? group, bool? all, HttpContext context) =>
            OperateAsync(registry, fleet, action, new RouteSelector(Topic: topic, Group: group, All: all == true && topic is null), who(context)));
        api.MapPost("/reload", async () => Results.Json(await registry.ReloadAsync("request").ConfigureAwait(false), ControlJson.Options));
        api.MapGet("/reload", () => Results.Json(new RoutesListing([], registry.LastReload, registry.LastRejectedReload), ControlJson.Options));
    }

    private static async Task<IResult> OperateAsync(RouteRegistry registry, FleetControl? fleet, string action, RouteSelector selector, string who)
    {
        if (!Enum.TryParse<RouteAction>(action, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || int.TryParse(action, out _))
        {
            return Results.Json(new ControlError($"unknown action '{action}'; one of: pause, resume, stop, start, restart"), ControlJson.Options, statusCode: StatusCodes.Status404NotFound);
        }

        RouteOperationResult result;
        try
        {
            // With a fleet, the intent goes through the control topic to every instance (this one included).
            result = fleet is null
                ? await registry.OperateAsync(parsed, selector, who).ConfigureAwait(false)
                : await fleet.OperateAsync(parsed, selector, who).ConfigureAwait(false);
        }
        catch (FleetUnavailableException ex)
        {
            return Results.Json(new ControlError($"{parsed.ToString().ToLowerInvariant()} not applied: {ex.Message}; nothing changed on any instance through this request"),
                ControlJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
        }


        return result.Error is null
            ? Results.Json(result, ControlJson.Options)
            : Results.Json(new ControlError(result.Error), ControlJson.Options, statusCode: selector.Route is null ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound);
    }
}

/// <summary>The answer of <c>GET /api/v1/routes/{route}/history</c>: the points oldest first, the last one for the interval running now.</summary>
internal sealed record RouteHistoryAnswer(string Route, double StepSeconds, double WindowSeconds, IReadOnlyList<HistoryPoint> Points);
