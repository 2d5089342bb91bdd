using System.Diagnostics.Metrics;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// The proxy's instruments: one <see cref="Meter"/> named <c>KafkaConsumerProxy</c>, exported by the admin endpoint
/// as Prometheus text (<c>GET /metrics</c>), plus process-wide totals that <c>kcp demo</c> and tests read directly.
/// Counters are per route; the per-partition gauges (lag, committed offset, high watermark, age of the oldest
/// unfinished message) are read from <see cref="Observations"/> when scraped.
/// </summary>
internal sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "KafkaConsumerProxy";

    private readonly Meter _meter;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failedAttempts;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _rebalances;
    private readonly Counter<long> _commitFailures;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _inFlight;
    private long _deliveredTotal;
    private long _failedTotal;
    private long _skippedTotal;
    private long _repeatsTotal;
    private readonly Counter<long> _repeats;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _concurrencyLimits = new(StringComparer.Ordinal);

    private readonly TimeProvider _time;

    public ProxyMetrics(TimeProvider time)
    {
        _time = time;
        Observations = new RouteObservations(time);
        _meter = new Meter(MeterName);
        _delivered = _meter.CreateCounter<long>("kcp.messages.delivered", description: "Messages the endpoint accepted");
        _failedAttempts = _meter.CreateCounter<long>("kcp.delivery.failures", description: "Failed delivery attempts (one per message of a failed batch)");
        _attempts = _meter.CreateCounter<long>("kcp.delivery.attempts", description: "Delivery attempts (requests) by outcome: success, bad_status, rejected_body, connect_timeout, timeout, connection_error, retry_listed");
        _skipped = _meter.CreateCounter<long>("kcp.messages.skipped", description: "Messages skipped, by kind: auto (retry_nums used up), status (a status the route skips at once) or manual (SIGUSR1, the admin API)");
        _meter.CreateObservableGauge("kcp.delivery.concurrency_limit",
            () => _concurrencyLimits.Select(kv => new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("route", kv.Key))),
            description: "The adaptive in-flight limit of routes with adaptive_concurrency");
        _repeats = _meter.CreateCounter<long>("kcp.messages.repeats_filtered", description: "Messages not delivered again because the local offset record shows them done");
        _duration = _meter.CreateHistogram<double>("kcp.delivery.duration", unit: "s", description: "Duration of delivery attempts (requests), any outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _inFlight = _meter.CreateUpDownCounter<long>("kcp.delivery.in_flight", description: "Delivery requests in flight");
        _rebalances = _meter.CreateCounter<long>("kcp.consumer.rebalances", description: "Partition assignments and revocations seen by the route's members");
        _commitFailures = _meter.CreateCounter<long>("kcp.offsets.commit_failures", description: "Offset commits the group coordinator refused or that failed");
        _meter.CreateObservableGauge("kcp.consumer.lag", () => Observations.Partitions().Where(p => p.HighWatermark >= 0).Select(p => new Measurement<long>(p.Lag, PartitionTags(p))),
            description: "High watermark minus the committed offset, per partition owned by this process (absent while the high watermark is unknown)");
        _meter.CreateObservableGauge("kcp.consumer.committed_offset", () => Observations.Partitions().Select(p => new Measurement<long>(p.CommittedOffset, PartitionTags(p))),
            description: "The offset last committed by this process, per partition (-1: none yet)");
        _meter.CreateObservableGauge("kcp.consumer.high_watermark", () => Observations.Partitions().Select(p => new Measurement<long>(p.HighWatermark, PartitionTags(p))),
            description: "The partition's high watermark from the latest fetch (-1: unknown)");
        _meter.CreateObservableGauge("kcp.partition.oldest_unfinished_age", () => OldestAges(), unit: "s",
            description: "Age of the oldest message fetched and not yet delivered or skipped, per partition (0: none)");
        _meter.CreateObservableGauge("kcp.partition.uncommitted", () => Observations.Partitions().Select(p => new Measurement<long>(p.Uncommitted, PartitionTags(p))),
            description: "Offsets fetched past the partition's last successful commit (what a takeover would deliver again)");
        _meter.CreateObservableGauge("kcp.partition.waiting_for_commit", () => Observations.Partitions().Select(p => new Measurement<int>(p.WaitingForCommit ? 1 : 0, PartitionTags(p))),
            description: "1 while fetching of the partition is paused at max_uncommitted until a commit succeeds, else 0");
        _meter.CreateObservableGauge("kcp.messages.blocked", () => Blocked(),
            description: "Messages being retried now (failed at least once, not yet delivered or skipped)");
        _meter.CreateObservableGauge("kcp.route.state", () => RouteStates(),
            description: "1 for the state the route is in (starting, running, paused, stopped, failed, restarting), else 0");
        _meter.CreateObservableGauge("kcp.budget.waiting", () => Budgets().Select(b => new Measurement<int>(b.Waiting, BudgetTags(b))),
            description: "Requests of the route waiting for the shared budget (limits) now");
        _meter.CreateObservableGauge("kcp.budget.wait_age", () => Budgets().Select(b => new Measurement<double>(b.OldestWaitSeconds, BudgetTags(b))), unit: "s",
            description: "How long the route's oldest request waiting for the shared budget has waited (0: none waits)");
        _meter.CreateObservableGauge("kcp.budget.in_flight", () => Budgets().Select(b => new Measurement<int>(b.Held, BudgetTags(b))),
            description: "Slots of the shared budget's max_concurrency the route holds now");
    }

    /// <summary>Partitions and failing messages of the running routes.</summary>
    public RouteObservations Observations { get; }

    /// <summary>Every route's name and state (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IReadOnlyList<(string Route, string State)>>? RouteStateSource { get; set; }

    /// <summary>The route of each message being retried now (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IEnumerable<string>>? FailingSource { get; set; }

    /// <summary>Every shared budget's routes (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IReadOnlyList<BudgetShare>>? BudgetSource { get; set; }

    /// <summary>The route state names, as <c>kcp.route.state</c> labels them.</summary>
    internal static readonly string[] StateNames = ["starting", "running", "paused", "stopped", "failed", "restarting"];

    /// <summary>The current adaptive in-flight limit of <paramref name="route"/>; null when its limit is fixed.</summary>
    public int? ConcurrencyLimit(string route) => _concurrencyLimits.TryGetValue(route, out var limit) ? limit : null;

    internal void SetConcurrencyLimit(string route, int limit) => _concurrencyLimits[route] = limit;

    public long Delivered => Interlocked.Read(ref _deliveredTotal);

    public long FailedAttempts => Interlocked.Read(ref _failedTotal);

    public long Skipped => Interlocked.Read(ref _skippedTotal);

    public long RepeatsFiltered => Interlocked.Read(ref _repeatsTotal);

    internal void OnRepeatFiltered(string route)
    {
        Interlocked.Increment(ref _repeatsTotal);
        _repeats.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    internal void OnDelivered(string route)
    {
        Interlocked.Increment(ref _deliveredTotal);
        Observations.CountDelivered(route);
        _delivered.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    internal void OnFailedAttempt(string route)
    {
        Interlocked.Increment(ref _failedTotal);
        _failedAttempts.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    /// <param name="kind">auto (retry_nums used up), status (a status the route skips at once) or manual.</param>
    internal void OnSkipped(string route, string kind = "auto")
    {
        Interlocked.Increment(ref _skippedTotal);
        _skipped.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("kind", kind));
    }

    /// <summary>A request is about to be sent; <see cref="OnAttempt"/> follows once it is decided.</summary>
    internal void OnAttemptStarted(string route) => _inFlight.Add(1, new KeyValuePair<string, object?>("route", route));

    /// <summary>The attempt announced by <see cref="OnAttemptStarted"/> was abandoned before it was sent.</summary>
    internal void OnAttemptNotSent(string route) => _inFlight.Add(-1, new KeyValuePair<string, object?>("route", route));

    /// <summary>A request was decided.</summary>
    /// <param name="outcome">The outcome's label: success, bad_status, rejected_body, connect_timeout, timeout, connection_error, retry_listed.</param>
    internal void OnAttempt(string route, string outcome, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("route", route);
        _inFlight.Add(-1, tag);
        _attempts.Add(1, tag, new KeyValuePair<string, object?>("outcome", outcome));
        _duration.Record(elapsed.TotalSeconds, tag);
    }

    internal void OnRebalance(string route) => _rebalances.Add(1, new KeyValuePair<string, object?>("route", route));

    internal void OnCommitFailed(string route) => _commitFailures.Add(1, new KeyValuePair<string, object?>("route", route));

    private static KeyValuePair<string, object?>[] PartitionTags(PartitionView p) =>
        [new("route", p.Route), new("topic", p.Topic), new("partition", p.Partition)];

    private IEnumerable<Measurement<double>> OldestAges()
    {
        var now = _time.GetUtcNow();
        return Observations.Partitions().Select(p => new Measurement<double>(
            p.OldestUnfinishedSince is { } since ? Math.Max(0, (now - since).TotalSeconds) : 0, PartitionTags(p)));
    }

    private IEnumerable<Measurement<long>> Blocked()
    {
        var failing = (FailingSource?.Invoke() ?? []).GroupBy(route => route).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var routes = (RouteStateSource?.Invoke() ?? []).Select(r => r.Route).Union(failing.Keys, StringComparer.Ordinal);
        return routes.Select(r => new Measurement<long>(failing.GetValueOrDefault(r), new KeyValuePair<string, object?>("route", r)));
    }

    private IReadOnlyList<BudgetShare> Budgets() => BudgetSource?.Invoke() ?? [];

    private static KeyValuePair<string, object?>[] BudgetTags(BudgetShare b) => [new("route", b.Route), new("budget", b.Budget)];

    private IEnumerable<Measurement<long>> RouteStates()
    {
        var routes = RouteStateSource?.Invoke() ?? [];
        foreach (var (route, state) in routes)
        {
            foreach (var name in StateNames)
            {
                yield return new Measurement<long>(name == state ? 1 : 0, new("route", route), new("state", name));
            }
        }
    }

    public void Dispose() => _meter.Dispose();
}
