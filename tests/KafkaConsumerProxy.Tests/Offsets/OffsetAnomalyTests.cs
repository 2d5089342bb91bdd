using KafkaConsumerProxy.Admin;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>The local offset store at work: repeats filtered, offsets restored, gaps reported, the offsets tool.</summary>
public sealed class OffsetAnomalyTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public OffsetAnomalyTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task OffsetBehind_NegativeUseSavedOffsetTime_RepeatsFilteredNotDelivered()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: -1);
        await using var _ = receiver;
        using var __ = config;
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 3 });
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 12).Skip(10));

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => r.Count >= 12, Patience);
            await proxy.WaitForLogAsync("offset behind on " + topic + "/0: the group's committed offset 3 is behind the local record 9", Patience);
            await proxy.WaitForLogAsync("filtered 7 repeated message(s)", Patience);
            Assert.Equal(7, proxy.Metrics.RepeatsFiltered);
            await proxy.StopAsync();
        }

        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = 12 });
        Assert.Equal(12, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task OffsetBehind_RecordAtTheLogEnd_FilteringReportedWithoutWaitingForALaterMessage_Issue7()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: -1);
        await using var _ = receiver;
        using var __ = config;
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 3 });

        // Nothing is produced after the record: the end of filtering is reported at the record's last offset.
        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await proxy.WaitForLogAsync("filtering repeats on " + topic + "/0: offset 3 is below the local record 9", Patience);
            await proxy.WaitForLogAsync("filtered 7 repeated message(s) on " + topic + "/0 below the local record 9", Patience);
            Assert.Equal(7, proxy.Metrics.RepeatsFiltered);
            await proxy.StopAsync();
        }

        Assert.Equal(10, receiver.Requests.Count);
        Assert.Equal(10, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task LogBoundsUnreadable_RecordNotTrusted_RepeatsDeliveredNotFilteredNorRestored_Issue7()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: 0);
        await using var _ = receiver;
        using var __ = config;
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 3 });

        // The watermark queries at assignment (one ListOffsets request each for the low and the high watermark) fail.
        _cluster.Mock.PushRequestErrors(KafkaApiKey.ListOffsets, ErrorCode.TopicAuthorizationFailed, ErrorCode.TopicAuthorizationFailed);
        try
        {
            await using var proxy = InProcessProxy.Start(config.ConfigFile);
            await proxy.WaitForLogAsync($"local offset record of {topic}/0 not trusted: the partition's log bounds could not be read", Patience);
            // The first run's ten requests are in the receiver too: wait for the seven of this run (bounded).
            await receiver.WaitForCountAsync(17, Patience);
            await proxy.StopAsync();
            Assert.DoesNotContain(proxy.Logs, l => l.Contains("filtering repeats", StringComparison.Ordinal) || l.Contains("offset restored", StringComparison.Ordinal));
        }
        finally
        {
            _cluster.Mock.ClearRequestErrors(KafkaApiKey.ListOffsets);
        }

        // Delivered again from the committed offset: repeats, never a loss.
        Assert.Equal([3L, 4, 5, 6, 7, 8, 9], receiver.Requests.Skip(10).Select(r => r.Offset!.Value));
        Assert.Equal(10, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task OffsetBehind_OldEnoughRecord_OffsetRestoredAndCommitted()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: 0);
        await using var _ = receiver;
        using var __ = config;
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 2 });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await proxy.WaitForLogAsync("offset restored on " + topic + "/0: seeking to 10", Patience);
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 10, "the restored offset 10 committed", Patience);
            await proxy.StopAsync();
        }

        Assert.Equal(10, receiver.Requests.Count);
    }

    [Fact]
    public async Task GapAhead_CommittedOffsetPastRecord_GapLoggedWithItsSize()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: 0);
        await using var _ = receiver;
        using var __ = config;
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 20).Skip(10));
        await GroupOffsets.CommitBehindTheBackAsync(_cluster.BootstrapServers, group, topic, new Dictionary<int, long> { [0] = 15 });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Count >= 15, Patience);
        await proxy.WaitForLogAsync("offset gap on " + topic + "/0: next message is 15 but the local record ends at 9; 5 offset(s)", Patience);
    }

    [Fact]
    public async Task OffsetsTool_ShowAndSet_ReplayIsDeliveredNotFiltered()
    {
        var (topic, group, receiver, config) = await DeliverTenAsync(useSavedOffsetTime: 0);
        await using var _ = receiver;
        using var __ = config;
        var loaded = ConfigLoader.Load(config.ConfigFile);

        using (var tool = new OffsetsTool(loaded, "route", TimeProvider.System))
        {
            var shown = Assert.Single(await tool.ShowAsync());
            Assert.Equal(new PartitionOffsetsRow(0, 10, 9, 0, 10, tool.ClusterId, RecordTrust.Trusted), shown);
            Assert.Equal(0, shown.Lag);
            await tool.SetAsync(new OffsetTarget.Explicit(new Dictionary<int, long> { [0] = 6 }));
            Assert.Equal(new PartitionOffsetsRow(0, 6, 5, 0, 10, tool.ClusterId, RecordTrust.Trusted), Assert.Single(await tool.ShowAsync()));
        }

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => r.Count >= 14, Patience);
            using var tool = new OffsetsTool(loaded, "route", TimeProvider.System);
            // Refused either way: assigned only part of the partitions, or (on a loaded machine) the embedded cluster's
            // rebalance with kcp's members takes longer than the tool waits.
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => tool.SetAsync(new OffsetTarget.Latest()));
            Assert.True(refused is InvalidOperationException or TimeoutException, refused.ToString());
            Assert.Contains("stop every kcp running route 'route' first", refused.Message, StringComparison.Ordinal);
            await proxy.StopAsync();
        }

        Assert.Equal([6L, 7, 8, 9], receiver.Requests.Skip(10).Select(r => r.Offset!.Value));
        using (var tool = new OffsetsTool(loaded, "route", TimeProvider.System))
        {
            await tool.SetAsync(new OffsetTarget.Earliest());
            Assert.Equal(0, Assert.Single(await tool.ShowAsync()).Committed);
            await tool.SetAsync(new OffsetTarget.Latest());
            Assert.Equal(10, Assert.Single(await tool.ShowAsync()).Committed);
            await tool.SetAsync(new OffsetTarget.Earliest());

            // No message at or after the time: the partition's end. (The embedded cluster answers every timestamp
            // lookup with "none", so a lookup that finds a message cannot be exercised here.)
            await tool.SetAsync(new OffsetTarget.AtTime(DateTimeOffset.UtcNow.AddHours(1)));
            Assert.Equal(10, Assert.Single(await tool.ShowAsync()).Committed);
        }
    }

    private async Task<(string Topic, string Group, RecordingReceiver Receiver, ProxyConfigWriter Config)> DeliverTenAsync(int useSavedOffsetTime)
    {
        var topic = _cluster.CreateTopic("anomaly", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 10));
        var receiver = await RecordingReceiver.StartAsync();
        var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("route", topic, group, receiver.Port, new Dictionary<string, object> { ["use_saved_offset_time"] = useSavedOffsetTime });
        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(10, Patience);
            await proxy.StopAsync();
        }

        return (topic, group, receiver, config);
    }
}
