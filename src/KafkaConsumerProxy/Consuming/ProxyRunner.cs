using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Runs every route of a validated configuration: <c>concurrency</c> group members per route, one shared HTTP
/// connection pool per route. A member that fails stops the whole proxy, so a broken route is never left
/// silently dead while the others run.
/// </summary>
public sealed class ProxyRunner
{
    private readonly KcpConfig _config;
    private readonly ILoggerFactory _loggers;
    private readonly ProxyMetrics _metrics;
    private readonly ManualSkipSignal _manualSkip;
    private readonly TimeProvider _time;

    public ProxyRunner(KcpConfig config, ILoggerFactory loggers, ProxyMetrics metrics, ManualSkipSignal manualSkip, TimeProvider time)
    {
        _config = config;
        _loggers = loggers;
        _metrics = metrics;
        _manualSkip = manualSkip;
        _time = time;
    }

    /// <summary>Runs until <paramref name="stop"/> is cancelled, then stops every member cleanly.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var logger = _loggers.CreateLogger("kcp");
        if (_config.Routes.Count == 0)
        {
            // The loader refuses this; a runner without routes would otherwise idle forever.
            var what = $"routes_dir {_config.RoutesDir}";
            Log.StartFailed(logger, what, "no routes to run");
            throw new StartFailedException(what, new InvalidOperationException("no routes to run"));
        }

        using var skipLog = Starting(logger, $"state_dir {_config.StateDir}", () => new SkipLog(_config.StateDir, logger, _time));
        var store = Starting(logger, $"state_dir {_config.StateDir}", () => new LocalOffsetStore(_config.StateDir, logger, _time));
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var deliverers = new List<HttpDeliverer>();
        var members = new List<Task>();
        try
        {
            foreach (var route in _config.Routes)
            {
                var routeLogger = _loggers.CreateLogger($"kcp.route.{route.Name}");
                var http = Starting(logger, $"route {route.Name} ({route.SourceFile})", () => new HttpDeliverer(route));
                deliverers.Add(http);
                var deliverer = new MessageDeliverer(route, http, skipLog, _manualSkip, _metrics, routeLogger, _time);
                var cluster = _config.Clusters[route.Cluster];
                Log.RouteStarted(logger, route.Name, route.Topic, route.Group, route.Cluster, route.Concurrency, (int)route.MessageDeliveryGuarantees, route.DescribeDelivery());
                for (var i = 0; i < route.Concurrency; i++)
                {
                    var member = new RouteMember(route, cluster, i, deliverer, store, _metrics, routeLogger, _time);
                    members.Add(WatchAsync(member.RunAsync(failed.Token), route.Name, i, failed, logger));
                }
            }

            await Task.WhenAll(members).ConfigureAwait(false);
        }
        finally
        {
            foreach (var http in deliverers)
            {
                http.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs one step of the start; a failure is logged in one line naming what could not be started (and where) and
    /// rethrown as <see cref="StartFailedException"/>, which makes the process exit with 1.
    /// </summary>
    private static T Starting<T>(ILogger logger, string what, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (Exception ex)
        {
            Log.StartFailed(logger, what, ex.Message.ReplaceLineEndings(" "));
            throw new StartFailedException(what, ex);
        }
    }

    private static async Task WatchAsync(Task member, string route, int index, CancellationTokenSource stopAll, ILogger logger)
    {
        try
        {
            await member.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.MemberFailed(logger, route, index, ex.Message);
            await stopAll.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>Something the proxy needs could not be set up before the routes start; already logged.</summary>
public sealed class StartFailedException(string what, Exception inner) : Exception($"cannot start {what}: {inner.Message}", inner);
