using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>The lag read from the broker by <see cref="GroupLagReader"/>, on a cluster of its own that goes down and up.</summary>
public sealed class GroupLagReaderTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task EveryPartitionsLagFromTheBroker_BrokerDown_KeepsTheLastReadingAndLogsOnce_ReadsAgainWhenBack_Issue17()
    {
        using var cluster = TestCluster.Start(1);
        var topic = cluster.CreateTopic("lagread", 2);
        var group = Names.Unique("g");
        await cluster.ProduceAsync(topic, Enumerable.Range(0, 4).SelectMany(i => new[] { 0, 1 }.Select(p => (p, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"v{i}")))));
        // The group committed 1 on partition 0 and nothing on partition 1 (nobody consumes: no member owns either).
        using (var committer = TestCluster.BuildQuietConsumer(cluster.ConsumerConfig(group)))
        {
            committer.Commit([new TopicPartitionOffset(topic, 0, 1)]);
        }

        using var config = new ProxyConfigWriter(cluster.BootstrapServers);
        config.AddRoute("r", topic, group, 1);
        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);
        Assert.True(loaded is not null, string.Join("\n", errors));
        var logs = new FakeLogCollector();
        using var loggers = FakeLogs.AtInformation(logs);
        var lags = new GroupLags();
        await using var reader = new GroupLagReader(() => loaded, lags, loggers.CreateLogger("kcp"), TimeProvider.System, TimeSpan.FromMilliseconds(200)).Start();

        var first = await Eventually.ValueAsync(() => lags.Of("r"), r => r is not null, "a first reading", Patience);
        Assert.Equal(group, first!.Group);
        Assert.Equal([(0, 3L, 1L), (1, 4L, -1L)], first.Partitions.Select(p => (p.Partition, p.Lag, p.Committed)));
        Assert.Equal(7, first.Total);

        cluster.Mock.SetBrokerDown(1);
        await logs.WaitForAsync(r => r.Id.Id == 2180, "the unreadable lag logged", Patience);
        // The last reading before the failure: not necessarily the first, as reads go on every 200 ms until the broker
        // is down (reads of a route never overlap, so none that started earlier can land after the failed one).
        var kept = lags.Of("r");
        Assert.NotNull(kept);
        Assert.True(kept.ReadAt >= first.ReadAt);
        Assert.Equal(7, kept.Total);
        // Reads go on failing for a while (every 200 ms, each bounded at 5 s): logged once, the last reading kept.
        await Task.Delay(TimeSpan.FromSeconds(12), TimeProvider.System);
        Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 2180);
        Assert.Same(kept, lags.Of("r"));

        cluster.Mock.SetBrokerUp(1);
        await logs.WaitForAsync(r => r.Id.Id == 2181, "the lag read again", Patience);
        await Eventually.ValueAsync(() => lags.Of("r"), r => r is not null && r.ReadAt > kept.ReadAt, "a new reading", Patience);
        Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 2180);
    }
}
