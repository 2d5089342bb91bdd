using System.Diagnostics.Metrics;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>
/// The SLO series under an endpoint that fails, holds and delays its answers: the embedded cluster, a scripted endpoint,
/// the proxy in process, the series read with a <see cref="MeterListener"/> (only this test's route: tests run at once).
/// </summary>
public sealed class SloMetricsEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(300);
    private readonly TestCluster _cluster;

    public SloMetricsEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task LagSecondsAndHeadOfLineBlocked_RiseWhileTheHeadFails_FallToZero_EndToEndLatencyHasTheDelay_Issue20()
    {
        var topic = _cluster.CreateTopic("slo", 1);
        var group = Names.Unique("g");
        var route = Names.Unique("slo");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = 0;
        // Offset 0: a 500, then held until the test has seen the series move; the others: answered after the delay.
        await using var receiver = await RecordingReceiver.StartAsync(r => r.Offset != 0 ? Fault.Delayed(Delay)
            : Interlocked.Increment(ref attempts) == 1 ? Fault.Status(500) : Fault.HeldUntil(release.Task));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute(route, topic, group, receiver.Port);
        using var series = new RouteSeries(route);

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        try
        {
            await Eventually.ValueAsync(() => Task.FromResult(series.Gauges()), g => g.GetValueOrDefault("kcp.partition.head_of_line_blocked") > 0.5 && g.GetValueOrDefault("kcp.consumer.lag_seconds") > 0.5,
                "head-of-line blocked and lag seconds over 0.5 s while offset 0 is failing and held", Patience, g => string.Join(", ", g.Select(kv => $"{kv.Key}={kv.Value:F3}")), TimeSpan.FromMilliseconds(100));
        }
        finally
        {
            release.TrySetResult();
        }

        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 3, "the commit of all three", Patience);
        await Eventually.ValueAsync(() => Task.FromResult(series.Gauges()), g => g.TryGetValue("kcp.partition.head_of_line_blocked", out var b) && b == 0 && g.TryGetValue("kcp.consumer.lag_seconds", out var l) && l == 0,
            "both back to 0 once caught up", Patience, g => string.Join(", ", g.Select(kv => $"{kv.Key}={kv.Value:F3}")), TimeSpan.FromMilliseconds(100));

        // One latency per delivered message; offset 2 waited for offset 1's delay and its own.
        var latencies = series.Latencies();
        Assert.Equal(3, latencies.Count);
        Assert.True(latencies.Max() >= 2 * Delay.TotalSeconds, $"latencies {string.Join(", ", latencies)}");
        Assert.All(latencies, l => Assert.True(l >= Delay.TotalSeconds * 0.9, $"latency {l} under the endpoint's delay"));
    }

    /// <summary>The kcp series of one route: its end-to-end latencies as recorded, its partition gauges when asked.</summary>
    private sealed class RouteSeries : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly string _route;
        private readonly List<double> _latencies = [];
        private readonly Dictionary<string, double> _gauges = new(StringComparer.Ordinal);

        public RouteSeries(string route)
        {
            _route = route;
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ProxyMetrics.MeterName && instrument.Name is "kcp.end_to_end.latency" or "kcp.consumer.lag_seconds" or "kcp.partition.head_of_line_blocked")
                    l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "route" && (string?)tag.Value == _route)
                    {
                        lock (_latencies)
                        {
                            if (instrument.Name == "kcp.end_to_end.latency")
                                _latencies.Add(value);
                            else
                                _gauges[instrument.Name] = value;
                        }
                    }
                }
            });
            _listener.Start();
        }

        public IReadOnlyList<double> Latencies()
        {
            lock (_latencies)
                return [.. _latencies];
        }

        public Dictionary<string, double> Gauges()
        {
            lock (_latencies)
                _gauges.Clear();
            _listener.RecordObservableInstruments();
            lock (_latencies)
                return new Dictionary<string, double>(_gauges, StringComparer.Ordinal);
        }

        public void Dispose() => _listener.Dispose();
    }
}
