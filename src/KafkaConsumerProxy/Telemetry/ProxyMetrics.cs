using System.Diagnostics.Metrics;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// The proxy's counters: one <see cref="Meter"/> named <c>KafkaConsumerProxy</c> for metric exporters, plus
/// process-wide totals that <c>kcp demo</c> and tests read directly.
/// </summary>
public sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "KafkaConsumerProxy";

    private readonly Meter _meter;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failedAttempts;
    private readonly Counter<long> _skipped;
    private long _deliveredTotal;
    private long _failedTotal;
    private long _skippedTotal;
    private long _repeatsTotal;
    private readonly Counter<long> _repeats;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _concurrencyLimits = new(StringComparer.Ordinal);

    public ProxyMetrics()
    {
        _meter = new Meter(MeterName);
        _delivered = _meter.CreateCounter<long>("kcp.messages.delivered", description: "Messages the endpoint accepted");
        _failedAttempts = _meter.CreateCounter<long>("kcp.delivery.failures", description: "Failed delivery attempts");
        _skipped = _meter.CreateCounter<long>("kcp.messages.skipped", description: "Messages skipped after failures or by hand");
        _meter.CreateObservableGauge("kcp.delivery.concurrency_limit",
            () => _concurrencyLimits.Select(kv => new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("route", kv.Key))),
            description: "The adaptive in-flight limit of routes with adaptive_concurrency");
        _repeats = _meter.CreateCounter<long>("kcp.messages.repeats_filtered", description: "Messages not delivered again because the local offset record shows them done");
    }

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
        _delivered.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    internal void OnFailedAttempt(string route)
    {
        Interlocked.Increment(ref _failedTotal);
        _failedAttempts.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    internal void OnSkipped(string route)
    {
        Interlocked.Increment(ref _skippedTotal);
        _skipped.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    public void Dispose() => _meter.Dispose();
}
