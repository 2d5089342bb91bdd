using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Builds a route's parts and wires them together: its HTTP deliverer, dead-letter writer and shared budget, the
/// <see cref="MessageDeliverer"/> over them, and a <see cref="RouteSupervisor"/> whose members are
/// <see cref="RouteMember"/>s. The <see cref="RouteRegistry"/> calls <see cref="Create"/> at start and at each reload.
/// Owns the shared budgets (kcp.yaml's <c>limits</c>): disposed after the registry.
/// </summary>
internal sealed class RouteFactory : IDisposable
{
    private readonly RouteRuntime _runtime;
    private readonly ILogger _logger;
    private readonly Dictionary<LimitDefinition, RequestBudget> _budgets = [];

    public RouteFactory(RouteRuntime runtime, ILogger logger)
    {
        _runtime = runtime;
        _logger = logger;
        // kcp.budget.*, for every exporter of the meter (the admin endpoint's /metrics, OTLP).
        runtime.Metrics.BudgetSource = BudgetShares;
    }

    /// <summary>Applies an endpoint's <c>Kcp-Action: pause</c>; set once the registry exists (null: such an answer only retries).</summary>
    public EndpointPauses? EndpointPauses { get; set; }

    /// <summary>The supervisor of <paramref name="route"/> of <paramref name="config"/>, not started; throws when a part
    /// cannot be built (what was built is disposed).</summary>
    public RouteSupervisor Create(RouteDefinition route, KcpConfig config)
    {
        var routeLogger = _runtime.Loggers.CreateLogger($"kcp.route.{route.Name}");
        var cluster = config.Clusters[route.Cluster];
        var http = new HttpDeliverer(route, _runtime.Time, routeLogger);
        _runtime.Metrics.RegisterRoute(route.Name, route.Topic, route.Group, cluster.BootstrapServers);
        DeadLetterWriter? deadLetter = null;
        RetryLane? lane = null;
        try
        {
            deadLetter = route.DeadLetter.Enabled ? new DeadLetterWriter(route, config.Clusters[route.DeadLetter.Cluster ?? route.Cluster], routeLogger, _runtime.Time, http.Secrets) : null;
            lane = route.RetryLane.Enabled ? new RetryLane(route, cluster, _runtime.Metrics, routeLogger, _runtime.Time) : null;
            var budget = route.Delivery.Limit is { } limit ? Budget(config.Limits[limit]) : null;
            var deliverer = new MessageDeliverer(route, http, _runtime.SkipLog, _runtime.ManualSkip, _runtime.Metrics, routeLogger, _runtime.Time, budget, deadLetter, lane)
            {
                Failing = _runtime.Failing,
                PauseRoute = (host, resumeAfter) => EndpointPauses?.Request(route.Name, host, resumeAfter),
            };
            Log.RouteStarted(_logger, route.Name, route.Topic, route.Group, route.Cluster, route.Concurrency, (int)route.Offsets.MessageDeliveryGuarantees, route.DescribeDelivery());
            if (route.Endpoint.Tls.InsecureSkipVerify)
                Log.TlsVerificationDisabled(_logger, route.Name);
            if (route.Decoding is { Enabled: true, Registry.Tls.InsecureSkipVerify: true })
                Log.RegistryTlsVerificationDisabled(_logger, route.Name, route.Cluster);

            // The lane's members read the retry topic in a group of their own, under a name no route file can have
            // (a '/' cannot be in a file name), so their partitions, seeks and logs are never taken for the route's.
            var laneRoute = lane is null ? null : route with { Name = route.Name + "/retry", Topic = lane.Topic, Group = RetryLaneSettings.GroupOf(route.Group) };
            RouteMember Member(RouteDefinition of, int index, Action<string> onError) =>
                new(of, cluster, index, deliverer, _runtime.Store, _runtime.Metrics, routeLogger, _runtime.Time) { ErrorObserved = onError, Seeks = _runtime.Seeks };
            return new RouteSupervisor(route, cluster,
                (index, onError) => laneRoute is null ? Member(route, index, onError) : new LaneMemberPair(Member(route, index, onError), Member(laneRoute, index, onError)),
                new RouteDeliveryResources(http, deadLetter, lane), routeLogger, _runtime.Time)
            {
                SharedBudget = budget,
                TopicPartitions = () => _runtime.Metrics.Observations.GroupLags.Of(route.Name) is { } lag && lag.Topic == route.Topic ? lag.Partitions.Count : null,
            };
        }
        catch
        {
            lane?.Dispose();
            deadLetter?.Dispose();
            http.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        lock (_budgets)
        {
            foreach (var budget in _budgets.Values)
            {
                budget.Dispose();
            }
        }
    }

    // Every shared budget's routes (slots held, requests waiting), for the metrics; budgets of earlier definitions too
    // while a route still holds or waits for them.
    private IReadOnlyList<BudgetShare> BudgetShares()
    {
        lock (_budgets)
        {
            return [.. _budgets.Values.SelectMany(b => b.Shares())];
        }
    }

    // A shared budget of kcp.yaml's limits, one per definition: routes naming it share it, across reloads too while
    // its values stay the same.
    private RequestBudget Budget(LimitDefinition limit)
    {
        lock (_budgets)
        {
            if (!_budgets.TryGetValue(limit, out var budget))
            {
                budget = new RequestBudget(limit.Name, limit.MaxRequestsPerSecond, limit.MaxConcurrency, _runtime.Time);
                _budgets[limit] = budget;
            }

            return budget;
        }
    }
}
