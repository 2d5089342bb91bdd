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
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ProxyMetrics.MeterName)
                l.EnableMeasurementEvents(instrument);
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

        metrics.RegisterRoute("orders", "orders-topic", "orders-group", "SASL_SSL://broker-1.example:9093, broker-2.example:9093");
        metrics.OnPartitionAssigned("orders", "orders-topic", 3);

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
            if (instrument.Meter.Name != ProxyMetrics.MeterName)
                return;
            // Prometheus naming as the exporter applies it: '.' to '_', the unit 's' as _seconds, _total for counters.
            var name = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : "");
            var counter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal);
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
}
