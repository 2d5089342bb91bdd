using System.Diagnostics.Metrics;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>The series a route's metrics have from its start, and the attributes they carry.</summary>
public sealed class ProxyMetricsTests
{
    [Fact]
    public void RegisterRoute_ExportsEveryCounterAtZero_WithTheMessagingAttributes_Issue18()
    {
        using var metrics = new ProxyMetrics(new FakeTimeProvider());
        var seen = new List<(string Name, long Value, Dictionary<string, object?> Tags)>();
        using var listener = ListenTo(metrics, seen);

        metrics.RegisterRoute("orders", "orders-topic", "orders-group", "SASL_SSL://broker-1.example:9093, broker-2.example:9093");
        metrics.OnPartitionAssigned("orders", "orders-topic", 3);

        // The per-message counters are kept by kcp and read when exported (observable instruments).
        listener.RecordObservableInstruments();

        string[] counters = ["kcp.messages.delivered", "kcp.delivery.failures", "kcp.delivery.retries", "kcp.messages.dead_lettered",
            "kcp.messages.repeats_filtered", "kcp.consumer.rebalances", "kcp.offsets.commit_failures"];
        foreach (var name in counters)
        {
            var (_, value, tags) = Assert.Single(seen, s => s.Name == name);
            Assert.Equal(0, value);
            Assert.Equal("orders", tags["route"]);
            Assert.Equal("kafka", tags["messaging.system"]);
            Assert.Equal("orders-topic", tags["messaging.destination.name"]);
            Assert.Equal("orders-group", tags["messaging.consumer.group.name"]);
            Assert.Equal("broker-1.example", tags["server.address"]);
        }

        Assert.Equal(ProxyMetrics.SkipKinds, seen.Where(s => s.Name == "kcp.messages.skipped").Select(s => s.Tags["kind"]));
        Assert.Equal(ProxyMetrics.Outcomes, seen.Where(s => s.Name == "kcp.delivery.attempts").Select(s => s.Tags["outcome"]));
        var consumed = Assert.Single(seen, s => s.Name == "messaging.client.consumed.messages");
        Assert.Equal(0, consumed.Value);
        Assert.Equal("3", consumed.Tags["messaging.destination.partition.id"]);
        Assert.All(seen, s => Assert.Equal(0, s.Value));
    }

    [Fact]
    public void PerMessageCounters_AreReadWhenExported_AndKeepCountingAcrossARegistrationWithTheSameAttributes_Issue22()
    {
        using var metrics = new ProxyMetrics(new FakeTimeProvider());
        var seen = new List<(string Name, long Value, Dictionary<string, object?> Tags)>();
        using var listener = ListenTo(metrics, seen);
        metrics.RegisterRoute("orders", "orders-topic", "orders-group", "broker:9092");
        for (var i = 0; i < 3; i++)
        {
            metrics.OnConsumed("orders", "orders-topic", 2);
            metrics.OnAttemptStarted("orders");
            metrics.OnAttempt("orders", i == 0 ? "bad_status" : "success", TimeSpan.FromMilliseconds(1), attempt: i + 1);
            if (i > 0)
                metrics.OnDelivered("orders");
        }

        metrics.OnAttemptStarted("orders");
        metrics.RegisterRoute("orders", "orders-topic", "orders-group", "broker:9092");

        long Read(string name, string? outcome = null)
        {
            seen.Clear();
            listener.RecordObservableInstruments();
            var (_, value, tags) = Assert.Single(seen, s => s.Name == name && (outcome is null || Equals(s.Tags.GetValueOrDefault("outcome"), outcome)));
            Assert.Equal("orders-group", tags["messaging.consumer.group.name"]);
            return value;
        }

        Assert.Equal(3, Read("messaging.client.consumed.messages"));
        Assert.Equal("2", seen.Single(s => s.Name == "messaging.client.consumed.messages").Tags["messaging.destination.partition.id"]);
        Assert.Equal(2, Read("kcp.messages.delivered"));
        Assert.Equal(2, Read("kcp.delivery.attempts", "success"));
        Assert.Equal(1, Read("kcp.delivery.attempts", "bad_status"));
        Assert.Equal(1, Read("kcp.delivery.in_flight"));

        // Other attributes (a reload moved the route to another group): new series, from zero.
        metrics.RegisterRoute("orders", "orders-topic", "orders-group-2", "broker:9092");
        seen.Clear();
        listener.RecordObservableInstruments();
        var delivered = Assert.Single(seen, s => s.Name == "kcp.messages.delivered");
        Assert.Equal(0, delivered.Value);
        Assert.Equal("orders-group-2", delivered.Tags["messaging.consumer.group.name"]);
    }

    [Theory]
    [InlineData("10.0.0.1:9092,10.0.0.2:9092", "10.0.0.1")]
    [InlineData("PLAINTEXT://kafka-0.kafka:9092", "kafka-0.kafka")]
    [InlineData("[::1]:9092 [::2]:9092", "::1")]
    [InlineData("broker", "broker")]
    public void BrokerHost_IsTheFirstBootstrapServersHost_Issue18(string servers, string expected) =>
        Assert.Equal(expected, ProxyMetrics.BrokerHost(servers));

    [Fact]
    public void OperationsDocMetricsTable_NamesEverySeriesOfTheMeter_Issue18()
    {
        using var metrics = new ProxyMetrics(new FakeTimeProvider());
        var names = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            // This instance's meter only: tests running meanwhile create meters of the same name, from their own
            // threads, while the names are checked below.
            if (!ReferenceEquals(instrument.Meter, metrics.Meter))
                return;
            // Prometheus naming as the exporter applies it: '.' to '_', the unit 's' as _seconds, _total for counters.
            var name = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : "");
            var counter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal) || instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal);
            names.Add(counter ? name + "_total" : name);
        };
        listener.Start();

        var doc = File.ReadAllText(OperationsDoc());
        var table = doc[doc.IndexOf("### Metrics", StringComparison.Ordinal)..doc.IndexOf("### CLI", StringComparison.Ordinal)];
        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.Contains("| `" + n + "` |", table, StringComparison.Ordinal));
    }

    private static string OperationsDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var doc = Path.Combine(dir.FullName, "docs", "OPERATIONS.md");
            if (File.Exists(doc) && File.Exists(Path.Combine(dir.FullName, "KafkaConsumerProxy.slnx")))
                return doc;
        }

        throw new FileNotFoundException("docs/OPERATIONS.md not found above " + AppContext.BaseDirectory);
    }

    // Every long measurement of this ProxyMetrics' meter only (tests running meanwhile have meters of the same name),
    // with its tags copied, into seen.
    private static MeterListener ListenTo(ProxyMetrics metrics, List<(string Name, long Value, Dictionary<string, object?> Tags)> seen)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
                copy[tag.Key] = tag.Value;
            lock (seen)
                seen.Add((instrument.Name, value, copy));
        });
        listener.Start();
        return listener;
    }
}
