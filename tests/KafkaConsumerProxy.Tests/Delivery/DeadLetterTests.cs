using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// <c>dead_letter_topic</c> end to end: the embedded cluster, a real endpoint, the proxy in process; the dead-letter
/// topic is read back with a plain consumer.
/// </summary>
public sealed class DeadLetterTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public DeadLetterTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task SkipOnStatus_MessageWrittenToDeadLetterTopic_WithItsBytesAndEveryHeader_Issue10()
    {
        var topic = _cluster.CreateTopic("dlq-src", 1);
        var dlq = _cluster.CreateTopic("dlq-dst", 1);
        var group = Names.Unique("g");
        var sourceOffset = await ProduceWithHeadersAsync(_cluster.BootstrapServers, topic, "k-1"u8.ToArray(), "v\0binary"u8.ToArray(), ("trace", "abc"u8.ToArray()), ("trace", null));
        await using var receiver = await RecordingReceiver.StartAsync(_ => Fault.Status(422) with { Body = "{\"error\":\"missing field\"}" });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("dlq", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["can_skip"] = true,
            ["retry_nums"] = 5,
            ["skip_on_status"] = new[] { 400, 422 },
            ["dead_letter_topic"] = dlq,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Eventually.ValueAsync(() => File.Exists(config.SkipFile) ? File.ReadAllText(config.SkipFile) : "", text => text.Length > 0, "the skip record", Patience, text => $"'{text}'", TimeSpan.FromMilliseconds(50));
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == sourceOffset + 1, "the commit past the skipped message", Patience);
            await proxy.StopAsync();
        }

        Assert.Single(receiver.Requests);
        var message = Assert.Single(ReadAll(_cluster.BootstrapServers, dlq, 1));
        Assert.Equal("k-1"u8.ToArray(), message.Message.Key);
        Assert.Equal("v\0binary"u8.ToArray(), message.Message.Value);
        var headers = message.Message.Headers.Select(h => (h.Key, Value: h.GetValueBytes())).ToList();
        Assert.Equal("trace", headers[0].Key);
        Assert.Equal("abc"u8.ToArray(), headers[0].Value);
        Assert.Equal("trace", headers[1].Key);
        Assert.Null(headers[1].Value);
        var dlqHeaders = headers.Skip(2).ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.Value!));
        Assert.Equal(
            ["kcp.dlq.topic", "kcp.dlq.partition", "kcp.dlq.offset", "kcp.dlq.timestamp", "kcp.dlq.route", "kcp.dlq.group", "kcp.dlq.attempts",
             "kcp.dlq.first_failure_at", "kcp.dlq.last_failure", "kcp.dlq.last_status", "kcp.dlq.last_body", "kcp.dlq.skipped_at", "kcp.dlq.kind"],
            dlqHeaders.Keys);
        Assert.Equal(topic, dlqHeaders["kcp.dlq.topic"]);
        Assert.Equal("0", dlqHeaders["kcp.dlq.partition"]);
        Assert.Equal(sourceOffset.ToString(System.Globalization.CultureInfo.InvariantCulture), dlqHeaders["kcp.dlq.offset"]);
        // The source message's own timestamp; the dead-letter record's timestamp is when it was dead-lettered.
        Assert.Equal(SourceTimestamp(topic, sourceOffset).ToString(System.Globalization.CultureInfo.InvariantCulture), dlqHeaders["kcp.dlq.timestamp"]);
        Assert.True(message.Message.Timestamp.UnixTimestampMs >= SourceTimestamp(topic, sourceOffset));
        Assert.Equal("dlq", dlqHeaders["kcp.dlq.route"]);
        Assert.Equal(group, dlqHeaders["kcp.dlq.group"]);
        Assert.Equal("1", dlqHeaders["kcp.dlq.attempts"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", dlqHeaders["kcp.dlq.first_failure_at"]);
        Assert.StartsWith("HTTP 422 from 127.0.0.1:", dlqHeaders["kcp.dlq.last_failure"], StringComparison.Ordinal);
        Assert.Equal("422", dlqHeaders["kcp.dlq.last_status"]);
        Assert.Equal("{\"error\":\"missing field\"}", dlqHeaders["kcp.dlq.last_body"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", dlqHeaders["kcp.dlq.skipped_at"]);
        Assert.Equal("status", dlqHeaders["kcp.dlq.kind"]);

        using var record = JsonDocument.Parse(File.ReadAllLines(config.SkipFile).Single());
        var position = record.RootElement.GetProperty("dead_letter");
        Assert.Equal(dlq, position.GetProperty("topic").GetString());
        Assert.Equal(message.Partition.Value, position.GetProperty("partition").GetInt32());
        Assert.Equal(message.Offset.Value, position.GetProperty("offset").GetInt64());
        Assert.Equal("status", record.RootElement.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task DeadLetterClusterDown_SkipBlocksAndNothingPastItCommitted_CompletesWhenBack_Issue10()
    {
        using var dlqCluster = TestCluster.Start(brokers: 1);
        var dlq = dlqCluster.CreateTopic("dlq-down", 1);
        var topic = _cluster.CreateTopic("dlq-blocked", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        // Offset 0 fails and is skipped after one attempt; 1 and 2 would be accepted.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 0, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddCluster("dlq", dlqCluster.BootstrapServers);
        config.AddRoute("blocked", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["can_skip"] = true,
            ["retry_nums"] = 0,
            ["dead_letter_topic"] = dlq,
            ["dead_letter_cluster"] = "dlq",
        });

        dlqCluster.Mock.SetBrokerDown(1);
        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        try
        {
            await proxy.WaitForLogAsync("stays blocked: it cannot be written to dead-letter topic", Patience);

            // Blocked: no skip record, nothing after offset 0 sent (sync delivery waits), nothing committed.
            Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "skip record written while the dead-letter topic is down");
            Assert.All(receiver.Requests, r => Assert.Equal(0, r.Offset));
            Assert.True(Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0] < 1, "committed past the blocked message");
        }
        finally
        {
            dlqCluster.Mock.SetBrokerUp(1);
        }

        // Offset 0 keeps failing: it is skipped once its dead-letter write is acknowledged; then 1 and 2 go.
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 2, Patience);
        Assert.Equal([1L, 2L], receiver.Requests.Accepted().Select(r => r.Offset!.Value));
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 3, "the commit of all three", Patience);
        await proxy.StopAsync();

        var written = Assert.Single(ReadAll(dlqCluster.BootstrapServers, dlq, 1));
        Assert.Equal("0-0", Encoding.UTF8.GetString(written.Message.Value!));
        Assert.Contains(proxy.Logs, l => l.Contains("written to dead-letter topic " + dlq + " after", StringComparison.Ordinal));
        Assert.Single(File.ReadAllLines(config.SkipFile));
    }

    private long SourceTimestamp(string topic, long offset) =>
        ReadAll(_cluster.BootstrapServers, topic, 1).Single(r => r.Offset.Value == offset).Message.Timestamp.UnixTimestampMs;

    internal static async Task<long> ProduceWithHeadersAsync(string bootstrap, string topic, byte[]? key, byte[]? value, params (string Name, byte[]? Value)[] headers)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true })
            .SetLogHandler((_, _) => { })
            .Build();
        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = [] };
        foreach (var (name, bytes) in headers)
        {
            message.Headers.Add(name, bytes);
        }

        var result = await producer.ProduceAsync(new TopicPartition(topic, 0), message);
        return result.Offset.Value;
    }

    /// <summary>Every message of <paramref name="topic"/> now, read from the start without a group commit. Bounded.</summary>
    internal static List<ConsumeResult<byte[]?, byte[]?>> ReadAll(string bootstrap, string topic, int partitions)
    {
        using var consumer = TestCluster.BuildQuietConsumer(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = Names.Unique("reader"), EnableAutoCommit = false, FetchWaitMaxMs = 20 });
        var ends = Enumerable.Range(0, partitions).ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var read = new List<ConsumeResult<byte[]?, byte[]?>>();
        var clock = Stopwatch.StartNew();
        while (read.Count < ends.Values.Sum() && clock.Elapsed < Patience)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false } result)
            {
                read.Add(result);
            }
        }

        Assert.Equal(ends.Values.Sum(), read.Count);
        return read;
    }
}
