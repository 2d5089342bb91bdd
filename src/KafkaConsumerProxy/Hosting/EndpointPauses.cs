using System.Collections.Concurrent;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Applies an endpoint's <c>Kcp-Action: pause</c>: the route is paused through <paramref name="operate"/>, the entry
/// point of the operator's pause that the admin API and the control socket use (the fleet's when kcp runs one, so the
/// pause is fleet-wide; else <see cref="RouteRegistry.OperateAsync"/>), so it is kept and shown like an operator's, with
/// the endpoint as who asked, and written to <c>audit.jsonl</c> as done by it. With a <c>Retry-After</c> the route is resumed after that long
/// (<see cref="Delivery.EndpointActions.PauseFor"/>: at least 1 s, at most 24 hours), unless meanwhile it was resumed, or paused with another cause, by someone else; a pause whose timer
/// has not run when kcp stops stays until an operator resumes it. One pause per route is applied at a time: answers
/// asking for it again meanwhile add nothing.
/// </summary>
internal sealed class EndpointPauses(RouteRegistry registry, Func<RouteAction, RouteSelector, string, Task<RouteOperationResult>> operate, AuditLog audit, ILogger logger, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, byte> _applying = new(StringComparer.Ordinal);

    /// <summary>Pauses <paramref name="route"/> in the background for the endpoint <paramref name="host"/>.</summary>
    public void Request(string route, string host, TimeSpan? resumeAfter)
    {
        if (!_applying.TryAdd(route, 0))
        {
            return;
        }

        // Not awaited: the pause stops the very worker whose delivery asked for it.
        _ = Task.Run(() => PauseAsync(route, host, resumeAfter));
    }

    private async Task PauseAsync(string route, string host, TimeSpan? resumeAfter)
    {
        var who = $"endpoint {host}";
        try
        {
            var result = await operate(RouteAction.Pause, new RouteSelector(Route: route), who).ConfigureAwait(false);
            audit.Write(who, EndpointActionMethod, $"/api/v1/routes/{route}/pause", result.Error is null ? 200 : 409);
            if (result.Error is not null || result.Routes.Count != 1)
            {
                Log.EndpointPauseFailed(logger, route, result.Error ?? "no such route");
                return;
            }
        }
        catch (Exception ex) when (ex is Fleet.FleetUnavailableException or InvalidOperationException or ObjectDisposedException)
        {
            Log.EndpointPauseFailed(logger, route, ex.Message);
            return;
        }
        finally
        {
            _applying.TryRemove(route, out _);
        }

        if (resumeAfter is not { } after)
        {
            return;
        }

        after = Delivery.EndpointActions.PauseFor(after);
        await Task.Delay(after, time).ConfigureAwait(false);
        // Still the endpoint's pause: not resumed, and not paused with another cause since.
        if (registry.Find(route) is { State: RouteState.Paused, OperatorPaused: true } status && status.Cause.Contains(who, StringComparison.Ordinal))
        {
            RouteOperationResult resumed;
            try
            {
                resumed = await operate(RouteAction.Resume, new RouteSelector(Route: route), who).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Fleet.FleetUnavailableException or InvalidOperationException or ObjectDisposedException)
            {
                Log.EndpointPauseFailed(logger, route, ex.Message);
                return;
            }

            if (resumed.Error is null)
            {
                audit.Write(who, EndpointActionMethod, $"/api/v1/routes/{route}/resume", 200);
                Log.EndpointPauseEnded(logger, route, after.TotalSeconds);
            }
        }
    }

    /// <summary>The <c>method</c> of the endpoint's lines in <c>audit.jsonl</c>.</summary>
    public const string EndpointActionMethod = "Kcp-Action";
}
