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
        using var skipLog = new SkipLog(_config.StateDir, logger, _time);
        var store = new LocalOffsetStore(_config.StateDir, logger, _time);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var deliverers = new List<HttpDeliverer>();
        var members = new List<Task>();
        try
        {
            foreach (var route in _config.Routes)
            {
                var routeLogger = _loggers.CreateLogger($"kcp.route.{route.Name}");
                var http = new HttpDeliverer(route);
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
