using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>
/// A local record that is not evidence about the partition kcp now reads is never believed: the real kcp process
/// keeps its <c>state_dir</c> while the cluster behind the configured name is replaced (a migration; a topic deleted and
/// recreated looks the same).
/// </summary>
public sealed class StaleRecordTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Theory]
    // Fewer messages than the record: the record lies past the new log end as well.
    [InlineData(10, 2)]
    // More messages than the record: only the cluster id tells that the record is another cluster's.
    [InlineData(45, 2)]
    // Mode 3 restores a trusted record whatever use_saved_offset_time says.
    [InlineData(45, 3)]
    public async Task ReplacedCluster_KeptStateDir_EveryNewMessageDeliveredAndMismatchWarned_Issue7(int onNewCluster, int mode)
    {
        const int OnOldCluster = 30, ProducedLater = 5;
        using var clusterA = MockKafkaCluster.Start(1);
        var topic = Names.Unique("migrated");
        var group = Names.Unique("g");
        clusterA.CreateTopic(topic, 1);
        await EmbeddedProducer.ProduceAsync(clusterA.BootstrapServers, topic, Delivered.Numbered(1, OnOldCluster));
        await using var first = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(clusterA.BootstrapServers);
        // use_saved_offset_time: 0 (the baseline): a trusted record behind which the committed offset lies is restored.
        var keys = new Dictionary<string, object> { ["message_delivery_guarantees"] = mode };
        config.AddRoute("r", topic, group, first.Port, keys);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.WaitForAllAsync(first, DeliveryAssert.Offsets(1, OnOldCluster), Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        DeliveryAssert.AllOnce(DeliveryAssert.Offsets(1, OnOldCluster), first.Requests);

        // Cluster A stays up, so the new cluster cannot reuse its id.
        using var clusterB = MockKafkaCluster.Start(1);
        var idA = ClusterId(clusterA.BootstrapServers);
        var idB = ClusterId(clusterB.BootstrapServers);
        Assert.NotEqual(idA, idB);
        clusterB.CreateTopic(topic, 1);
        await EmbeddedProducer.ProduceAsync(clusterB.BootstrapServers, topic, Delivered.Numbered(1, onNewCluster));

        // The same cluster name, group and state_dir; the bootstrap now leads to the new cluster.
        File.WriteAllText(config.ConfigFile, File.ReadAllText(config.ConfigFile).Replace(clusterA.BootstrapServers, clusterB.BootstrapServers, StringComparison.Ordinal));
        await using var second = await RecordingReceiver.StartAsync();
        config.AddRoute("r", topic, group, second.Port, keys);
        var expected = DeliveryAssert.Offsets(1, onNewCluster + ProducedLater);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.WaitForAllAsync(second, DeliveryAssert.Offsets(1, onNewCluster), Patience);
            await EmbeddedProducer.ProduceAsync(clusterB.BootstrapServers, topic, Delivered.Numbered(1, onNewCluster + ProducedLater).Skip(onNewCluster));
            await DeliveryAssert.WaitForAllAsync(second, expected, Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
            DeliveryAssert.AllOnce(expected, second.Requests);
            var warning = Assert.Single(kcp.Output, l => l.Contains($"local offset record of {topic}/0 ignored", StringComparison.Ordinal));
            Assert.Contains($"written for cluster id {idA} (last done {OnOldCluster - 1}), but cluster default has id {idB} (log 0..{onNewCluster})", warning, StringComparison.Ordinal);
            Assert.DoesNotContain(kcp.Output, l => l.Contains("offset restored", StringComparison.Ordinal) || l.Contains("offset behind", StringComparison.Ordinal) || l.Contains("filtering repeats", StringComparison.Ordinal));
        }

        Assert.Equal(onNewCluster + ProducedLater, Delivered.CommittedOffsets(clusterB.BootstrapServers, group, topic, 1)[0]);

        // The ignored record was replaced by the new cluster's progress.
        var record = new LocalOffsetStore(config.StateDir, NullLogger.Instance, TimeProvider.System).Read(new PartitionKey("default", group, topic, 0));
        Assert.Equal(onNewCluster + ProducedLater, record?.NextOffset);
        Assert.Equal(idB, record?.ClusterId);
    }

    private static string? ClusterId(string bootstrapServers)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).SetLogHandler((_, _) => { }).Build();
        return admin.ClusterId(TimeSpan.FromSeconds(10));
    }
}
