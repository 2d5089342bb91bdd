using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Tests.Harness;
using Xunit.Abstractions;

namespace KafkaConsumerProxy.Tests.Embedded;

public sealed class MockKafkaClusterTests(TestCluster cluster, ITestOutputHelper output) : IClassFixture<TestCluster>
{
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Start_LoadsALibraryAndReportsOneBootstrapPerBroker()
    {
        Assert.NotNull(MockKafkaCluster.LoadedLibraryPath);
        Assert.Equal(3, cluster.BootstrapServers.Split(',').Length);
        output.WriteLine($"librdkafka: {MockKafkaCluster.LoadedLibraryPath}");
    }

    [Fact]
    public async Task ProduceToChosenPartitions_ConsumeInGroup_EveryMessageArrivesInPartitionOrder()
    {
        var topic = cluster.CreateTopic("orders", partitions: 8);
        var sent = Enumerable.Range(0, 100)
            .Select(i => (Partition: i % 8, Key: (byte[]?)Encoding.UTF8.GetBytes($"k{i}"), Value: (byte[]?)Encoding.UTF8.GetBytes($"v{i}")))
            .ToList();

        var offsets = await cluster.ProduceAsync(topic, sent);

        Assert.Equal(sent.Select(m => m.Partition), offsets.Select(o => o.Partition.Value));
        var started = Stopwatch.StartNew();
        using var consumer = TestCluster.BuildQuietConsumer(cluster.ConsumerConfig(Names.Unique("group")));
        consumer.Subscribe(topic);
        var received = new List<ConsumeResult<byte[]?, byte[]?>>();
        TimeSpan? firstMessage = null;
        while (received.Count < sent.Count && started.Elapsed < ConsumeTimeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result)
            {
                firstMessage ??= started.Elapsed;
                received.Add(result);
            }
        }

        consumer.Close();
        output.WriteLine($"first message after {firstMessage?.TotalMilliseconds:0} ms, all {received.Count} after {started.ElapsedMilliseconds} ms");
        Assert.Equal(
            sent.Select(m => $"{m.Partition}:{Encoding.UTF8.GetString(m.Value!)}").Order(),
            received.Select(r => $"{r.Partition.Value}:{Encoding.UTF8.GetString(r.Message.Value!)}").Order());
        foreach (var partition in received.GroupBy(r => r.Partition.Value))
        {
            Assert.Equal(Enumerable.Range(0, partition.Count()).Select(i => (long)i), partition.Select(r => r.Offset.Value));
        }
    }

    [Fact]
    public async Task SetBrokerDown_ProduceToItsPartition_TimesOutUntilSetBrokerUp()
    {
        using var own = TestCluster.Start(brokers: 3);
        var topic = own.CreateTopic("down", partitions: 2);
        own.Mock.SetPartitionLeader(topic, 0, brokerId: 2);
        own.Mock.SetPartitionLeader(topic, 1, brokerId: 1);
        // Fast to give up on the partition whose leader is down; patient where the produce must succeed (a new
        // producer connects and reads metadata first, and a busy machine can take seconds for that).
        void Fast(ProducerConfig c)
        {
            c.MessageTimeoutMs = 1500;
            c.ReconnectBackoffMs = 50;
            c.ReconnectBackoffMaxMs = 200;
        }

        void Patient(ProducerConfig c)
        {
            Fast(c);
            c.MessageTimeoutMs = 30_000;
        }

        own.Mock.SetBrokerDown(2);

        var stalled = await Assert.ThrowsAsync<ProduceException<byte[]?, byte[]?>>(
            () => EmbeddedProducer.ProduceAsync(own.BootstrapServers, topic, [(0, null, [1])], Fast));
        Assert.Equal(ErrorCode.Local_MsgTimedOut, stalled.Error.Code);
        var otherLeader = await EmbeddedProducer.ProduceAsync(own.BootstrapServers, topic, [(1, null, [2])], Patient);
        Assert.Equal(0, otherLeader.Single().Offset.Value);

        own.Mock.SetBrokerUp(2);

        var recovered = await EmbeddedProducer.ProduceAsync(own.BootstrapServers, topic, [(0, null, [3])], Patient);
        Assert.Equal(new TopicPartition(topic, 0), recovered.Single().TopicPartition);
    }

    [Fact]
    public async Task PushRequestErrors_OffsetCommit_NextCommitFailsWithThatErrorOnce()
    {
        var topic = cluster.CreateTopic("commit", partitions: 1);
        await cluster.ProduceAsync(topic, [(0, null, [42])]);
        using var consumer = TestCluster.BuildQuietConsumer(cluster.ConsumerConfig(Names.Unique("group")));
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var message = ConsumeOne(consumer);
        var next = new TopicPartitionOffset(message.TopicPartition, message.Offset + 1);

        cluster.Mock.PushRequestErrors(KafkaApiKey.OffsetCommit, ErrorCode.OffsetMetadataTooLarge);

        var failed = Assert.ThrowsAny<KafkaException>(() => consumer.Commit([next]));
        Assert.Equal(ErrorCode.OffsetMetadataTooLarge, ErrorOf(failed));
        consumer.Commit([next]);
        Assert.Equal(1, consumer.Committed([next.TopicPartition], TimeSpan.FromSeconds(5)).Single().Offset.Value);
        consumer.Close();
    }

    [Fact]
    public async Task SetBrokerRtt_AllBrokers_DelaysAcknowledgements()
    {
        using var own = TestCluster.Start(brokers: 1);
        var topic = own.CreateTopic("rtt");
        await own.ProduceAsync(topic, [(0, null, [0])]);
        own.Mock.SetBrokerRtt(-1, 150);

        var timer = Stopwatch.StartNew();
        await own.ProduceAsync(topic, [(0, null, [1])]);

        // Timers run on a millisecond tick and may fire up to a tick early against the Stopwatch.
        Assert.True(timer.ElapsedMilliseconds >= 140, $"produce took {timer.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void SetCoordinator_UnknownKeyType_Throws() =>
        Assert.Throws<ArgumentException>(() => cluster.Mock.SetCoordinator("broker", "g", 1));

    [Fact]
    public void CreateTopic_Twice_ThrowsKafkaException()
    {
        var topic = cluster.CreateTopic("dup");

        Assert.Throws<KafkaException>(() => cluster.Mock.CreateTopic(topic, 1));
    }

    [Fact]
    public void Dispose_Twice_IsHarmlessAndLaterCallsThrow()
    {
        var own = MockKafkaCluster.Start(brokers: 1);

        own.Dispose();
        own.Dispose();

        Assert.Throws<ObjectDisposedException>(() => own.SetBrokerDown(1));
    }

    private static ConsumeResult<byte[]?, byte[]?> ConsumeOne(IConsumer<byte[]?, byte[]?> consumer)
    {
        var timer = Stopwatch.StartNew();
        while (timer.Elapsed < ConsumeTimeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result)
            {
                return result;
            }
        }

        throw new TimeoutException($"No message within {ConsumeTimeout}.");
    }

    private static ErrorCode ErrorOf(KafkaException exception) =>
        exception is TopicPartitionOffsetException partitions
            ? partitions.Results.Select(r => r.Error.Code).First(c => c != ErrorCode.NoError)
            : exception.Error.Code;
}
