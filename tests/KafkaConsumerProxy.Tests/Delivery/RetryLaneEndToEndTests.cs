using System.Globalization;
using System.Text;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The non-blocking retry lane (<c>retry_topic</c>, issue 20 item 5) end to end: the embedded cluster, a scripted
/// endpoint, the proxy in process; the retry topic and the committed offsets are read back from the cluster.
/// </summary>
public sealed class RetryLaneEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public RetryLaneEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task FailingMessage_LeavesItsPartitionForTheLane_PartitionCommittedPastIt_DeliveredOnceWhenTheEndpointTakesIt_Issue20()
    {
        var topic = _cluster.CreateTopic("lane-src", 2);
        var lane = _cluster.CreateTopic("lane-retry", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, 6));
        var release = new TaskCompletionSource();
        // 0@2 fails until released; every other message is accepted at once.
        await using var receiver = await RecordingReceiver.StartAsync(r => r.Partition == 0 && r.Offset == 2 && !release.Task.IsCompleted ? Fault.Status(503) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("lane", topic, group, receiver.Port, Lane(lane, [100, 100]));

        await using var proxy = InProcessProxy.Start(config.ConfigFile);

        // Both partitions are committed to their ends while 0@2 still fails: it left its partition as a copy.
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c[0] == 6 && c[1] == 6, "both partitions committed past the failing message", Patience);
        Assert.DoesNotContain(receiver.Requests.Accepted(), r => r.Partition == 0 && r.Offset == 2);
        var copies = DeadLetterTests.ReadAll(_cluster.BootstrapServers, lane, 1);
        Assert.NotEmpty(copies);
        var first = Headers(copies[0]);
        Assert.Equal((topic, "0", "2", "1"), (first["kcp.retry.topic"], first["kcp.retry.partition"], first["kcp.retry.offset"], first["kcp.retry.round"]));
        Assert.Equal("0-2", Encoding.UTF8.GetString(copies[0].Message.Value!));

        release.SetResult();
        await receiver.WaitForAsync(r => r.Accepted().Any(a => a.Partition == 0 && a.Offset == 2), Patience);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group + ".retry", lane, 1, c => c[0] == LaneEnd(lane), "the lane committed past its copies", Patience);
        await proxy.StopAsync();

        // Every message accepted exactly once, 0@2 with its own topic, partition and offset, without the lane's headers.
        var accepted = receiver.Requests.Accepted().ToList();
        Assert.Equal(12, accepted.Count);
        Assert.Equal(12, accepted.Select(r => (r.Partition, r.Offset)).Distinct().Count());
        var late = Assert.Single(accepted, r => r.Partition == 0 && r.Offset == 2);
        Assert.Equal(topic, late.Header("X-Kafka-Topic"));
        // Its attempt number counts the attempts of every round: the accepted one is the last request for it.
        Assert.Equal(receiver.Requests.Count(r => r.Partition == 0 && r.Offset == 2).ToString(CultureInfo.InvariantCulture), late.Header("X-Kafka-Delivery-Attempt"));
        Assert.DoesNotContain(late.Headers.Keys, h => h.Contains("kcp.retry", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(proxy.Logs, l => l.Contains("moved to the retry lane " + lane, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CopyCannotBeWritten_MessageStaysAndNothingPastItCommitted_CommittedOnceTheCopyIsAcknowledged_Issue20()
    {
        var topic = _cluster.CreateTopic("lane-blocked", 1);
        var lane = _cluster.CreateTopic("lane-blocked-retry", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 4));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("lane-blocked", topic, group, receiver.Port, Lane(lane, [60_000]));

        // Every write to the cluster fails (retriably) until cleared; the test produced its messages already.
        _cluster.Mock.PushRequestErrors(KafkaApiKey.Produce, Enumerable.Repeat(Confluent.Kafka.ErrorCode.NotEnoughReplicas, 100_000).ToArray());
        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        try
        {
            await proxy.WaitForLogAsync("could not be written to the retry lane " + lane, Patience);
            await receiver.WaitForAsync(r => r.Accepted().Count() == 3, Patience);
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 1, "the commit up to the failing message", Patience);

            // The others were delivered, but the commit stays at the failing message while its copy is not written,
            // and it is retried in place.
            await receiver.WaitForAsync(r => r.Count(q => q.Offset == 1) >= 2, Patience);
            Assert.Equal(1, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        }
        finally
        {
            _cluster.Mock.ClearRequestErrors(KafkaApiKey.Produce);
        }

        // Once a copy is acknowledged the partition is committed to its end; the copy waits for its round (60 s).
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 4, "the commit past the copied message", Patience);
        var copy = Assert.Single(DeadLetterTests.ReadAll(_cluster.BootstrapServers, lane, 1));
        Assert.Equal("1", Headers(copy)["kcp.retry.offset"]);
        await proxy.StopAsync();
    }

    [Fact]
    public async Task LastRoundFails_RouteRulesApply_RetryNumsThenDeadLetter_Issue20()
    {
        var topic = _cluster.CreateTopic("lane-last", 1);
        var lane = _cluster.CreateTopic("lane-last-retry", 1);
        var dlq = _cluster.CreateTopic("lane-last-dlq", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var keys = Lane(lane, [50, 50]);
        (keys["can_skip"], keys["retry_nums"], keys["dead_letter_topic"]) = (true, 1, dlq);
        config.AddRoute("lane-last", topic, group, receiver.Port, keys);

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Eventually.ValueAsync(() => File.Exists(config.SkipFile) ? File.ReadAllText(config.SkipFile) : "", text => text.Length > 0, "the skip record", Patience, text => $"'{text}'", TimeSpan.FromMilliseconds(50));
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group + ".retry", lane, 1, c => c[0] == 2, "the lane committed past both rounds' copies", Patience);
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 3, "the source committed", Patience);
            await proxy.StopAsync();
        }

        // One attempt in place, one per round, and the last round's attempt is the first of retry_nums + 1.
        Assert.Equal(1 + 2 + 1, receiver.Requests.Count(r => r.Offset == 1));
        Assert.Equal(["1", "2"], DeadLetterTests.ReadAll(_cluster.BootstrapServers, lane, 1).Select(c => Headers(c)["kcp.retry.round"]));
        var dead = Assert.Single(DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1));
        var deadHeaders = Headers(dead);
        Assert.Equal((topic, "1", "4"), (deadHeaders["kcp.dlq.topic"], deadHeaders["kcp.dlq.offset"], deadHeaders["kcp.dlq.attempts"]));
        Assert.DoesNotContain(deadHeaders.Keys, h => h.StartsWith("kcp.retry.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EndpointOutage_BreakerHoldsTheMessages_LaneRoundsNotBurnedNothingSkipped_Issue20()
    {
        var topic = _cluster.CreateTopic("lane-outage", 2);
        var lane = _cluster.CreateTopic("lane-outage-retry", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, 5));
        var down = true;
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref down) ? Fault.Status(503) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var keys = Lane(lane, [50]);
        (keys["can_skip"], keys["retry_nums"], keys["breaker_failures"], keys["breaker_probe_interval_ms"]) = (true, 0, 3, 100);
        config.AddRoute("lane-outage", topic, group, receiver.Port, keys);

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            // Open, and probed a few times: several messages have failed, some of them more than once.
            await proxy.WaitForLogAsync("circuit breaker open", Patience);
            await receiver.WaitForAsync(r => r.Select(q => (q.Partition, q.Offset)).Distinct().Count() >= 4 && r.Count >= 16, Patience);
            Volatile.Write(ref down, false);
            await receiver.WaitForAsync(r => r.Accepted().Count() >= 10, Patience);
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c[0] == 5 && c[1] == 5, "both partitions committed", Patience);
            await proxy.StopAsync();
        }

        // Failures of many messages in a row are an outage's, which count toward neither retry_nums nor the lane's rounds:
        // the messages waited where they were, none was skipped (one round and retry_nums 0 would have), each was delivered once.
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "a message was skipped during the outage");
        Assert.Equal(10, receiver.Requests.Accepted().Select(r => (r.Partition, r.Offset)).Distinct().Count());
        Assert.Equal(10, receiver.Requests.Accepted().Count());
        Assert.True(LaneEnd(lane) <= 1, $"{LaneEnd(lane)} copies went to the lane during the outage");
    }

    private static Dictionary<string, object> Lane(string lane, int[] delaysMs) => new()
    {
        ["async_concurrency"] = 4,
        ["ordering"] = "none",
        ["retry_topic"] = lane,
        ["retry_topic_delays_ms"] = delaysMs,
    };

    private long LaneEnd(string lane) => DeadLetterTests.ReadAll(_cluster.BootstrapServers, lane, 1).Count;

    private static Dictionary<string, string> Headers(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> record) =>
        record.Message.Headers.GroupBy(h => h.Key).ToDictionary(g => g.Key, g => Encoding.UTF8.GetString(g.Last().GetValueBytes() ?? []), StringComparer.Ordinal);
}
