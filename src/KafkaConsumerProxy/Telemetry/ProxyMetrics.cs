using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// The proxy's instruments: one <see cref="Meter"/> named <c>KafkaConsumerProxy</c>, exported by the admin endpoint
/// as Prometheus text (<c>GET /metrics</c>) and over OTLP, plus process-wide totals that <c>kcp demo</c> and tests read
/// directly. The messaging series follow OpenTelemetry's semantic conventions for consumers
/// (<c>messaging.client.consumed.messages</c>, <c>messaging.process.duration</c>); kcp's own keep the <c>kcp.</c>
/// prefix. Every series carries the route and the conventions' attributes (<c>messaging.system</c>,
/// <c>messaging.destination.name</c>, <c>messaging.consumer.group.name</c>, <c>server.address</c>, and
/// <c>messaging.destination.partition.id</c> on the per-partition ones); a route's counters are exported at zero from
/// its start (<see cref="RegisterRoute"/>). The per-partition gauges (lag, committed offset, high watermark, age of the
/// oldest unfinished message) are read from <see cref="Observations"/> when scraped.
/// </summary>
internal sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "KafkaConsumerProxy";

    /// <summary>The meter of the runtime's HTTP client (<c>http.client.request.duration</c> and others), exported beside kcp's.</summary>
    /// <summary>The meter of a range replay's own deliverer: exported nowhere.</summary>
    public const string ReplayMeterName = "KafkaConsumerProxy.Replay";

    public const string HttpClientMeterName = "System.Net.Http";

    /// <summary><c>messaging.system</c> of every messaging series.</summary>
    public const string MessagingSystem = "kafka";

    internal const string RouteTag = "route";
    internal const string SystemTag = "messaging.system";
    internal const string DestinationTag = "messaging.destination.name";
    internal const string GroupTag = "messaging.consumer.group.name";
    internal const string PartitionTag = "messaging.destination.partition.id";
    internal const string ServerTag = "server.address";

    /// <summary>The skip kinds, as <c>kcp.messages.skipped</c> labels them; each exported at zero from a route's start.</summary>
    internal static readonly string[] SkipKinds = ["auto", "status", "manual", "seek", "endpoint", "decode"];

    /// <summary>The attempt outcomes, as <c>kcp.delivery.attempts</c> labels them; each exported at zero from a route's start.</summary>
    internal static readonly string[] Outcomes = ["success", "bad_status", "rejected_body", "connect_timeout", "timeout", "connection_error", "retry_listed",
        "endpoint_retry", "endpoint_skip", "endpoint_dead_letter", "endpoint_pause", "decode_error", "registry_unavailable", "tls_error", "auth_error"];

    private static readonly string[] PartitionIds = [.. Enumerable.Range(0, 1024).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private readonly Meter _meter;
    private readonly Counter<long> _failedAttempts;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _retryLane;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _rebalances;
    private readonly Counter<long> _commitFailures;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _process;
    private readonly Histogram<double> _endToEnd;
    private long _deliveredTotal;
    private long _failedTotal;
    private long _skippedTotal;
    private long _repeatsTotal;
    private readonly Counter<long> _repeats;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _concurrencyLimits = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<BreakerView>> _breakers = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RouteTags> _routes = new(StringComparer.Ordinal);

    // The per-message counters, kept by kcp and exported by observable instruments (RouteSeries).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RouteSeries> _series = new(StringComparer.Ordinal);
    private readonly Func<string, RouteSeries> _newSeries;

    private readonly TimeProvider _time;

    public ProxyMetrics(TimeProvider time)
        : this(time, MeterName)
    {
    }

    /// <param name="time">The clock of the rates and durations.</param>
    /// <param name="meterName">The meter's name: <see cref="ReplayMeterName"/> for a replay's deliveries, which no exporter
    /// listens to, so that they never count as the live route's.</param>
    internal ProxyMetrics(TimeProvider time, string meterName)
    {
        _time = time;
        Observations = new RouteObservations(time);
        _meter = new Meter(meterName);
        _newSeries = NewSeries;
        _meter.CreateObservableCounter("messaging.client.consumed.messages",
            () => _series.Values.SelectMany(r => r.Partitions).Select(p => new Measurement<long>(p.Consumed, p.Tags)), unit: "{message}",
            description: "Messages fetched from Kafka and handed to the route's delivery, per partition (messages the local record shows done are not counted)");
        _process = _meter.CreateHistogram<double>("messaging.process.duration", unit: "s",
            description: "One message from fetch to finished (delivered or skipped, retries and waits included); error.type 'skipped' for a skipped message",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800] });
        _meter.CreateObservableCounter("kcp.messages.delivered", () => _series.Values.Select(r => new Measurement<long>(r.Delivered, r.Tags)), description: "Messages the endpoint accepted");
        _endToEnd = _meter.CreateHistogram<double>("kcp.end_to_end.latency", unit: "s",
            description: "From the record's timestamp (producer create time, or log append time) to the endpoint's accepting answer, per delivered message with a timestamp",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600] });
        _failedAttempts = _meter.CreateCounter<long>("kcp.delivery.failures", description: "Failed delivery attempts (one per message of a failed batch)");
        _meter.CreateObservableCounter("kcp.delivery.attempts",
            () => _series.Values.SelectMany(r => r.Attempts()).Select(a => new Measurement<long>(a.Count, a.Tags)), description: "Delivery attempts (requests) by outcome: success, bad_status, rejected_body, connect_timeout, timeout, connection_error, retry_listed, and endpoint_retry, endpoint_skip, endpoint_dead_letter, endpoint_pause (the answer's Kcp-Action)");
        _retries = _meter.CreateCounter<long>("kcp.delivery.retries", description: "Delivery attempts after the first of a message or batch");
        _skipped = _meter.CreateCounter<long>("kcp.messages.skipped", description: "Messages skipped, by kind: auto (retry_nums used up), status (a status the route skips at once), manual (SIGUSR1, the admin API), seek, or endpoint (the answer's Kcp-Action: skip or dead-letter)");
        _deadLettered = _meter.CreateCounter<long>("kcp.messages.dead_lettered", description: "Skipped messages written to the route's dead-letter topic");
        _retryLane = _meter.CreateCounter<long>("kcp.messages.retry_lane", description: "Failed messages whose copy the retry topic acknowledged (retry_topic), by the lane round the copy is for");
        _meter.CreateObservableGauge("kcp.delivery.concurrency_limit",
            () => _concurrencyLimits.Select(kv => new Measurement<int>(kv.Value, Tags(kv.Key))),
            description: "The adaptive in-flight limit of routes with adaptive_concurrency");
        _meter.CreateObservableGauge("kcp.breaker.state",
            () => _breakers.Select(kv => new Measurement<int>(kv.Value().Value, Tags(kv.Key))),
            description: "The route's circuit breaker: 0 closed, 1 open (only probes are sent), 2 half-open (a probe is in flight); routes with breaker_failures: 0 have none");
        _repeats = _meter.CreateCounter<long>("kcp.messages.repeats_filtered", description: "Messages not delivered again because the local offset record shows them done");
        _duration = _meter.CreateHistogram<double>("kcp.delivery.duration", unit: "s", description: "Duration of delivery attempts (requests), any outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _meter.CreateObservableUpDownCounter("kcp.delivery.in_flight", () => _series.Values.Select(r => new Measurement<long>(r.InFlight, r.Tags)),
            description: "Delivery requests in flight");
        _rebalances = _meter.CreateCounter<long>("kcp.consumer.rebalances", description: "Partition assignments and revocations seen by the route's members");
        _commitFailures = _meter.CreateCounter<long>("kcp.offsets.commit_failures", description: "Offset commits the group coordinator refused or that failed");
        _meter.CreateObservableGauge("kcp.consumer.lag", () => Lags(),
            description: "Messages the group still has to finish, per partition of the route's topic, owned by this process or not, paused or not: the log end minus the group's committed offset as read from the broker (kcp offsets show's lag)");
        _meter.CreateObservableGauge("kcp.consumer.committed_offset", () => Observations.Partitions().Select(p => new Measurement<long>(p.CommittedOffset, PartitionTags(p))),
            description: "The offset last committed by this process, per partition (-1: none yet)");
        _meter.CreateObservableGauge("kcp.consumer.high_watermark", () => Observations.Partitions().Select(p => new Measurement<long>(p.HighWatermark, PartitionTags(p))),
            description: "The partition's high watermark from the latest fetch (-1: unknown)");
        _meter.CreateObservableGauge("kcp.partition.oldest_unfinished_age", () => OldestAges(), unit: "s",
            description: "Age of the oldest message fetched and not yet delivered or skipped, per partition (0: none)");
        // Named with its unit, without the unit attribute: kcp.consumer.lag (messages) is taken, and the exporter would
        // otherwise add "_seconds" again.
        _meter.CreateObservableGauge("kcp.consumer.lag_seconds", () => LagSeconds(),
            description: "The partition's time lag: now minus the timestamp of its oldest unfinished message, or of the next one not fetched yet (read as the last fetched while behind); 0 when caught up");
        _meter.CreateObservableGauge("kcp.partition.head_of_line_blocked", () => HeadOfLineBlocked(), unit: "s",
            description: "How long the partition's oldest message being retried has been failing (the messages behind it wait in order); 0 when none is");
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

    /// <summary>
    /// Names the attributes of <paramref name="route"/>'s series (its topic, group and the first broker of its cluster)
    /// and exports its counters at zero, so that a rate or an alert over them has a series from the start. Called when
    /// the route is built; a reload that changes them starts new series.
    /// </summary>
    /// <param name="bootstrapServers">The cluster's <c>bootstrap_servers</c>; the first one's host is <c>server.address</c>.</param>
    internal void RegisterRoute(string route, string topic, string group, string bootstrapServers)
    {
        var tags = new RouteTags(route, topic, group, BrokerHost(bootstrapServers));
        if (!_routes.TryGetValue(route, out var known) || known != tags || !_series.ContainsKey(route))
        {
            // New attributes start new series (kcp.messages.delivered, kcp.delivery.attempts and the others counted by
            // kcp, exported at zero from here); the same ones keep counting across a reload.
            _routes[route] = tags;
            _series[route] = NewSeries(route);
        }

        var list = tags.List();
        _failedAttempts.Add(0, list);
        _retries.Add(0, list);
        _deadLettered.Add(0, list);
        _repeats.Add(0, list);
        _rebalances.Add(0, list);
        _commitFailures.Add(0, list);
        foreach (var kind in SkipKinds)
        {
            var withKind = list;
            withKind.Add("kind", kind);
            _skipped.Add(0, withKind);
        }
    }

    /// <summary>A partition of <paramref name="route"/> was assigned to this process: its consumed count is exported from zero.</summary>
    internal void OnPartitionAssigned(string route, string topic, int partition) => _ = Series(route).Partition(topic, partition);

    /// <summary>The counted series of <paramref name="route"/>, with only the route as attribute for a route never registered.</summary>
    private RouteSeries Series(string route) => _series.TryGetValue(route, out var series) ? series : _series.GetOrAdd(route, _newSeries);

    private RouteSeries NewSeries(string route) =>
        new([.. Tags(route)], (topic, partition) => [.. PartitionTags(route, topic, partition)]);

    /// <summary>The host of the first entry of <c>bootstrap_servers</c> (without a protocol prefix or port); empty when there is none.</summary>
    internal static string BrokerHost(string bootstrapServers)
    {
        var first = bootstrapServers.Split([',', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        var scheme = first.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            first = first[(scheme + 3)..];
        if (first.StartsWith('['))
        {
            var close = first.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? first[1..close] : first;
        }

        var colon = first.LastIndexOf(':');
        return colon > 0 ? first[..colon] : first;
    }

    /// <summary>This instance's meter (tests listen to it alone; other instances share its name).</summary>
    internal Meter Meter => _meter;

    /// <summary>Partitions and failing messages of the running routes.</summary>
    public RouteObservations Observations { get; }

    /// <summary>Every route's name and state (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IReadOnlyList<(string Route, string State)>>? RouteStateSource { get; set; }

    /// <summary>Each message being retried now: its route, topic, partition and since when (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IEnumerable<(string Route, string Topic, int Partition, DateTimeOffset Since)>>? BlockedSource { get; set; }

    /// <summary>The route of each message being retried now (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IEnumerable<string>>? FailingSource { get; set; }

    /// <summary>Every shared budget's routes (set by whoever runs the routes); read when the metrics are scraped.</summary>
    internal Func<IReadOnlyList<BudgetShare>>? BudgetSource { get; set; }

    /// <summary>The route state names, as <c>kcp.route.state</c> labels them.</summary>
    internal static readonly string[] StateNames = ["starting", "running", "paused", "stopped", "failed", "restarting"];

    /// <summary>The current adaptive in-flight limit of <paramref name="route"/>; null when its limit is fixed.</summary>
    public int? ConcurrencyLimit(string route) => _concurrencyLimits.TryGetValue(route, out var limit) ? limit : null;

    internal void SetConcurrencyLimit(string route, int limit) => _concurrencyLimits[route] = limit;

    /// <summary>The circuit breaker of <paramref name="route"/>; null when it has none (<c>breaker_failures: 0</c>).</summary>
    public BreakerView? Breaker(string route) => _breakers.TryGetValue(route, out var view) ? view() : null;

    /// <summary>Where the state of <paramref name="route"/>'s breaker is read when shown; null: the route has none.</summary>
    internal void SetBreaker(string route, Func<BreakerView>? view)
    {
        if (view is null)
            _breakers.TryRemove(route, out _);
        else
            _breakers[route] = view;
    }

    public long Delivered => Interlocked.Read(ref _deliveredTotal);

    public long FailedAttempts => Interlocked.Read(ref _failedTotal);

    public long Skipped => Interlocked.Read(ref _skippedTotal);

    public long RepeatsFiltered => Interlocked.Read(ref _repeatsTotal);

    internal void OnRepeatFiltered(string route)
    {
        Interlocked.Increment(ref _repeatsTotal);
        _repeats.Add(1, Tags(route));
    }

    /// <summary>A message of <paramref name="route"/> was fetched and handed to its delivery.</summary>
    internal void OnConsumed(string route, string topic, int partition) => Series(route).Partition(topic, partition).AddConsumed();

    /// <summary>A message fetched <paramref name="elapsed"/> ago is finished: delivered, or skipped when <paramref name="skipped"/>.</summary>
    internal void OnProcessed(string route, string topic, int partition, TimeSpan elapsed, bool skipped)
    {
        var series = Series(route).Partition(topic, partition);
        _process.Record(elapsed.TotalSeconds, skipped ? series.SkippedTags : series.Tags);
    }

    /// <param name="timestampMs">The record's timestamp (Unix ms), for <c>kcp.end_to_end.latency</c>; 0 or less: none.</param>
    internal void OnDelivered(string route, long timestampMs = -1)
    {
        Interlocked.Increment(ref _deliveredTotal);
        Observations.CountDelivered(route);
        var series = Series(route);
        series.AddDelivered();
        if (timestampMs > 0)
        {
            _endToEnd.Record(Math.Max(0, _time.GetUtcNow().ToUnixTimeMilliseconds() - timestampMs) / 1000.0, series.Tags);
        }
    }

    internal void OnFailedAttempt(string route)
    {
        Interlocked.Increment(ref _failedTotal);
        Observations.CountFailed(route);
        _failedAttempts.Add(1, Tags(route));
    }

    /// <param name="kind">auto (retry_nums used up), status (a status the route skips at once), manual or seek.</param>
    internal void OnSkipped(string route, string kind = "auto")
    {
        Interlocked.Increment(ref _skippedTotal);
        var tags = Tags(route);
        tags.Add("kind", kind);
        _skipped.Add(1, tags);
    }

    /// <summary>A skipped message was written to the route's dead-letter topic.</summary>
    internal void OnDeadLettered(string route) => _deadLettered.Add(1, Tags(route));

    /// <summary>The copy of a failed message for lane round <paramref name="round"/> was acknowledged by the retry topic.</summary>
    internal void OnRetryLane(string route, int round)
    {
        var tags = Tags(route);
        tags.Add("round", round.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _retryLane.Add(1, tags);
    }

    /// <summary>A request is about to be sent; <see cref="OnAttempt"/> follows once it is decided.</summary>
    internal void OnAttemptStarted(string route) => Series(route).AddInFlight(1);

    /// <summary>The attempt announced by <see cref="OnAttemptStarted"/> was abandoned before it was sent.</summary>
    internal void OnAttemptNotSent(string route) => Series(route).AddInFlight(-1);

    /// <summary>A request was decided.</summary>
    /// <param name="outcome">The outcome's label: success, bad_status, rejected_body, connect_timeout, timeout, connection_error, retry_listed.</param>
    /// <param name="attempt">The attempt's number for its message or batch: 2 and above count as retries.</param>
    internal void OnAttempt(string route, string outcome, TimeSpan elapsed, int attempt = 1)
    {
        var series = Series(route);
        series.AddInFlight(-1);
        _duration.Record(elapsed.TotalSeconds, series.Tags);
        if (attempt > 1)
            _retries.Add(1, series.Tags);
        series.AddAttempt(outcome);
    }

    internal void OnRebalance(string route) => _rebalances.Add(1, Tags(route));

    internal void OnCommitFailed(string route) => _commitFailures.Add(1, Tags(route));

    /// <summary>The route's attributes: those <see cref="RegisterRoute"/> named, or the route alone for a route never registered.</summary>
    private TagList Tags(string route) => _routes.TryGetValue(route, out var tags) ? tags.List() : new TagList { { RouteTag, route } };

    // kcp.consumer.lag: the broker's reading of every partition of a route's topic; a route without one yet (the first
    // read, a few seconds after its start) shows its members' own views of the partitions they own.
    private IEnumerable<Measurement<long>> Lags()
    {
        var readings = Observations.GroupLags.All();
        var read = readings.Select(r => r.Route).ToHashSet(StringComparer.Ordinal);
        foreach (var p in Observations.Partitions().Where(p => p.HighWatermark >= 0 && !read.Contains(p.Route)))
            yield return new Measurement<long>(p.Lag, PartitionTags(p));
        foreach (var (route, reading) in readings)
        {
            foreach (var p in reading.Partitions)
                yield return new Measurement<long>(p.Lag, PartitionTags(route, reading.Topic, p.Partition));
        }
    }

    private TagList PartitionTags(string route, string topic, int partition)
    {
        var tags = _routes.TryGetValue(route, out var known) ? known.List(topic) : new TagList { { RouteTag, route }, { SystemTag, MessagingSystem }, { DestinationTag, topic } };
        tags.Add(PartitionTag, (uint)partition < (uint)PartitionIds.Length ? PartitionIds[partition] : partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return tags;
    }

    private KeyValuePair<string, object?>[] PartitionTags(PartitionView p) => [.. PartitionTags(p.Route, p.Topic, p.Partition)];

    private IEnumerable<Measurement<double>> OldestAges()
    {
        var now = _time.GetUtcNow();
        return Observations.Partitions().Select(p => new Measurement<double>(
            p.OldestUnfinishedSince is { } since ? Math.Max(0, (now - since).TotalSeconds) : 0, PartitionTags(p)));
    }

    private IEnumerable<Measurement<double>> LagSeconds()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return Observations.Partitions().Select(p => new Measurement<double>(p.LagFromMs > 0 ? Math.Max(0, nowMs - p.LagFromMs) / 1000.0 : 0, PartitionTags(p)));
    }

    // Per owned partition: the longest failing of its messages being retried (a batch is one entry).
    private IEnumerable<Measurement<double>> HeadOfLineBlocked()
    {
        var now = _time.GetUtcNow();
        var oldest = new Dictionary<(string, string, int), DateTimeOffset>();
        foreach (var (route, topic, partition, since) in BlockedSource?.Invoke() ?? [])
        {
            if (!oldest.TryGetValue((route, topic, partition), out var seen) || since < seen)
                oldest[(route, topic, partition)] = since;
        }

        return Observations.Partitions().Select(p => new Measurement<double>(
            oldest.TryGetValue((p.Route, p.Topic, p.Partition), out var since) ? Math.Max(0, (now - since).TotalSeconds) : 0, PartitionTags(p)));
    }

    private IEnumerable<Measurement<long>> Blocked()
    {
        var failing = (FailingSource?.Invoke() ?? []).GroupBy(route => route).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var routes = (RouteStateSource?.Invoke() ?? []).Select(r => r.Route).Union(failing.Keys, StringComparer.Ordinal);
        return routes.Select(r => new Measurement<long>(failing.GetValueOrDefault(r), Tags(r)));
    }

    private IReadOnlyList<BudgetShare> Budgets() => BudgetSource?.Invoke() ?? [];

    private KeyValuePair<string, object?>[] BudgetTags(BudgetShare b)
    {
        var tags = Tags(b.Route);
        tags.Add("budget", b.Budget);
        return [.. tags];
    }

    private IEnumerable<Measurement<long>> RouteStates()
    {
        var routes = RouteStateSource?.Invoke() ?? [];
        foreach (var (route, state) in routes)
        {
            foreach (var name in StateNames)
            {
                var tags = Tags(route);
                tags.Add("state", name);
                yield return new Measurement<long>(name == state ? 1 : 0, tags);
            }
        }
    }

    public void Dispose() => _meter.Dispose();

    /// <summary>A route's attributes, as every series of the route carries them.</summary>
    private sealed record RouteTags(string Route, string Topic, string Group, string Server)
    {
        public TagList List(string? topic = null)
        {
            var tags = new TagList
            {
                { RouteTag, Route },
                { SystemTag, MessagingSystem },
                { DestinationTag, topic ?? Topic },
                { GroupTag, Group },
            };
            if (Server.Length > 0)
                tags.Add(ServerTag, Server);
            return tags;
        }
    }
}
