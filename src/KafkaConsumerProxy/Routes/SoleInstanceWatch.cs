using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// Guarantee mode 3 runs in one instance of its group only (docs/FLEET.md): each partition's position is the local
/// record on the machine that delivers it, so a partition that another instance takes over repeats what mode 3
/// promised not to. While a mode 3 route runs, this watch compares the partitions its members hold with the topic's
/// partitions (as the broker lists them for the lag). It asks the broker nothing of its own and so works on every
/// cluster, the embedded one included, which answers no DescribeGroups.
/// <list type="bullet">
/// <item>An instance that has not held every partition within <see cref="Window"/> of its start is the second one:
/// it logs an error (event 2240) and the route is stopped here, with that cause in its status; the instance that was
/// there first goes on.</item>
/// <item>An instance that held every partition and then holds fewer for <see cref="Window"/> logs that another
/// instance joined (event 2241) and goes on; the newcomer stops itself if it is a kcp.</item>
/// </list>
/// <see cref="Window"/> covers what a single instance sees as well: a member of its own previous life (a crash) is
/// dropped after <c>session.timeout.ms</c>, and the rebalance that follows may take as long again.
/// </summary>
internal sealed class SoleInstanceWatch
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    private readonly RouteDefinition _route;
    private readonly Func<int> _owned;
    private readonly Func<int?> _partitions;
    private readonly Action<string> _stop;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <param name="owned">The partitions this instance's members of the route hold now.</param>
    /// <param name="partitions">The topic's partitions; null while unknown.</param>
    /// <param name="stop">Stops the route with the given cause (not awaited).</param>
    public SoleInstanceWatch(RouteDefinition route, ClusterDefinition cluster, Func<int> owned, Func<int?> partitions, Action<string> stop, ILogger logger, TimeProvider time)
    {
        _route = route;
        _owned = owned;
        _partitions = partitions;
        _stop = stop;
        _logger = logger;
        _time = time;
        var session = ConsumerSettings.Create(route, cluster, 0).SessionTimeoutMs ?? DefaultSessionTimeoutMs;
        Window = (2 * TimeSpan.FromMilliseconds(session)) + TimeSpan.FromSeconds(5);
    }

    /// <summary>librdkafka's default <c>session.timeout.ms</c>.</summary>
    private const int DefaultSessionTimeoutMs = 45_000;

    /// <summary>How long an instance may hold fewer than every partition: twice <c>session.timeout.ms</c>, plus 5 s.</summary>
    public TimeSpan Window { get; }

    /// <summary>Watches until <paramref name="stop"/> is cancelled or the route was stopped for a second instance.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var started = _time.GetTimestamp();
        var everWhole = false;
        var mostOwned = 0;
        long? partialSince = null;
        var reported = false;
        try
        {
            while (true)
            {
                await Task.Delay(Period, _time, stop).ConfigureAwait(false);
                // Counted before the topic's partitions are known (the lag's first reading may come seconds after the
                // assignment): an instance that held every partition meanwhile was there first.
                var owned = _owned();
                mostOwned = Math.Max(mostOwned, owned);
                if (_partitions() is not { } total || total == 0)
                {
                    continue;
                }

                everWhole |= mostOwned >= total;
                if (owned >= total)
                {
                    if (reported)
                    {
                        Log.SoleInstanceAgain(_logger, _route.Name, _route.Topic, total);
                    }

                    (everWhole, partialSince, reported) = (true, null, false);
                }
                else if (!everWhole)
                {
                    if (_time.GetElapsedTime(started) >= Window)
                    {
                        Log.SecondInstanceRefused(_logger, _route.Name, _route.Group, _route.Topic, owned, total, Window.TotalSeconds);
                        _stop($"another instance of group {_route.Group} holds partitions of {_route.Topic} ({owned} of {total} here); guarantee mode 3 runs in one instance only");
                        return;
                    }
                }
                else
                {
                    partialSince ??= _time.GetTimestamp();
                    if (!reported && _time.GetElapsedTime(partialSince.Value) >= Window)
                    {
                        Log.SecondInstanceJoined(_logger, _route.Name, _route.Group, _route.Topic, owned, total, Window.TotalSeconds);
                        reported = true;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The route's run ended.
        }
    }
}
