using System.Text.Json;
using System.Text.Json.Serialization;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Routes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KafkaConsumerProxy.Admin;

/// <summary>The body of <c>POST /api/v1/routes/{route}/replays</c>: the fields of <c>kcp replay</c>, in snake_case.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record ReplayBody(
    IReadOnlyList<int>? Partitions = null,
    int? Partition = null,
    long? FromOffset = null,
    DateTimeOffset? FromTime = null,
    long? ToOffset = null,
    DateTimeOffset? ToTime = null,
    string? Endpoint = null,
    int? Rate = null,
    bool DryRun = false);

/// <summary>The answer of <c>GET /api/v1/routes/{route}/replays</c>.</summary>
internal sealed record ReplayListing(string Route, IReadOnlyList<ReplayStatus> Replays);

/// <summary>
/// Range replays run inside kcp while the route keeps delivering (<see cref="ReplayRuns"/>), mapped with
/// <see cref="RoutesApi"/> and audited like every other state-changing request:
/// <list type="bullet">
/// <item><c>POST /api/v1/routes/{route}/replays</c>: starts one (202 with its status; 400 with every problem of the body).</item>
/// <item><c>GET /api/v1/routes/{route}/replays</c>, <c>GET .../replays/{id}</c>: status and progress.</item>
/// <item><c>DELETE .../replays/{id}</c>: cancels it (it ends once the message being sent is answered).</item>
/// </list>
/// </summary>
internal static class ReplaysApi
{
    public static void Map(RouteGroupBuilder api, RouteRegistry registry, Func<HttpContext, string> who)
    {
        var runs = registry.Replays;
        api.MapPost("/routes/{route}/replays", async (string route, HttpContext context) =>
        {
            if (registry.Find(route) is null)
            {
                return NotFound($"no route named '{route}'");
            }

            ReplayBody? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync<ReplayBody>(context.Request.Body, ControlJson.Options, context.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                return BadRequest([$"the body is not a replay: {ex.Message}"]);
            }

            if (body is null)
            {
                return BadRequest(["give a JSON object such as {\"partitions\": [0], \"from_offset\": 2, \"to_offset\": 9}"]);
            }

            Uri? endpoint = null;
            if (body.Endpoint is not null && (!Uri.TryCreate(body.Endpoint, UriKind.Absolute, out endpoint) || !ReplayRequest.IsEndpoint(endpoint)))
            {
                return BadRequest([$"endpoint '{body.Endpoint}' is not an http:// or https:// URL with a host (and no user or fragment)"]);
            }

            var request = new ReplayRequest
            {
                Partitions = [.. body.Partitions ?? [], .. body.Partition is { } one ? [one] : Array.Empty<int>()],
                FromOffset = body.FromOffset,
                FromTime = body.FromTime,
                ToOffset = body.ToOffset,
                ToTime = body.ToTime,
                Endpoint = endpoint,
                Rate = body.Rate,
                DryRun = body.DryRun,
            };
            var problems = request.Problems(name => name.Replace('-', '_'));
            if (problems.Count > 0)
            {
                return BadRequest(problems);
            }

            try
            {
                var by = who(context);
                var progress = await Task.Run(() => runs.Start(route, request, by), context.RequestAborted).ConfigureAwait(false);
                return Results.Json(progress.Snapshot(), ControlJson.Options, statusCode: StatusCodes.Status202Accepted);
            }
            catch (ReplayException ex)
            {
                return BadRequest([ex.Message]);
            }
            catch (KeyNotFoundException ex)
            {
                return NotFound(ex.Message);
            }
        });
        api.MapGet("/routes/{route}/replays", (string route) => registry.Find(route) is null
            ? NotFound($"no route named '{route}'")
            : Results.Json(new ReplayListing(route, [.. runs.Of(route).Select(r => r.Snapshot())]), ControlJson.Options));
        api.MapGet("/routes/{route}/replays/{id}", (string route, string id) => runs.Find(route, id) is { } progress
            ? Results.Json(progress.Snapshot(), ControlJson.Options)
            : NotFound($"route '{route}' has no replay '{id}'"));
        api.MapDelete("/routes/{route}/replays/{id}", async (string route, string id, HttpContext context) =>
        {
            if (runs.Find(route, id) is not { } progress)
            {
                return NotFound($"route '{route}' has no replay '{id}'");
            }

            if (progress.State == ReplayState.Running)
            {
                runs.Cancel(progress, who(context));
                // Usually ends within the answer of the message being sent; bounded by exec_timeout_ms in any case.
                await Task.WhenAny(progress.Finished, Task.Delay(TimeSpan.FromSeconds(5), registry.Time, context.RequestAborted)).ConfigureAwait(false);
            }

            return Results.Json(progress.Snapshot(), ControlJson.Options);
        });
    }

    private static IResult NotFound(string error) =>
        Results.Json(new ControlError(error), ControlJson.Options, statusCode: StatusCodes.Status404NotFound);

    private static IResult BadRequest(IReadOnlyList<string> problems) =>
        Results.Json(new ControlError(string.Join("; ", problems)), ControlJson.Options, statusCode: StatusCodes.Status400BadRequest);
}
