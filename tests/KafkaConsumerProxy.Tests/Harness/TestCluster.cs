using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A <see cref="MockKafkaCluster"/> for tests, with client configs tuned for speed. Usable as an
/// xunit class fixture; tests that break brokers should start their own with <see cref="Start"/>.
/// </summary>
public sealed class TestCluster : IDisposable
{
    /// <summary>Starts a 3-broker cluster (the xunit fixture constructor).</summary>
    public TestCluster()
        : this(3)
    {
    }

    private TestCluster(int brokers) => Mock = MockKafkaCluster.Start(brokers);

    /// <summary>The underlying cluster, for fault injection.</summary>
    public MockKafkaCluster Mock { get; }

    /// <summary>Bootstrap servers of the cluster.</summary>
    public string BootstrapServers => Mock.BootstrapServers;

    /// <summary>Starts a cluster with <paramref name="brokers"/> brokers.</summary>
    public static TestCluster Start(int brokers = 3) => new(brokers);

    /// <summary>Creates a topic named <c>Names.Unique(prefix)</c> and returns its name.</summary>
    public string CreateTopic(string prefix, int partitions = 1)
    {
        var topic = Names.Unique(prefix);
        Mock.CreateTopic(topic, partitions);
        return topic;
    }

    /// <summary>Produces <paramref name="messages"/> and waits for their acknowledgement.</summary>
    public Task<IReadOnlyList<TopicPartitionOffset>> ProduceAsync(
        string topic, IEnumerable<(int Partition, byte[]? Key, byte[]? Value)> messages) =>
        EmbeddedProducer.ProduceAsync(BootstrapServers, topic, messages);

    /// <summary>
    /// A group consumer config that starts from the earliest offset, commits only when told, and
    /// does not wait on the broker longer than a test needs to.
    /// </summary>
    public ConsumerConfig ConsumerConfig(string groupId) => new()
    {
        BootstrapServers = BootstrapServers,
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        // The fetch long-poll (default 500 ms) would otherwise be the latency of every empty fetch.
        FetchWaitMaxMs = 20,
        // Session/heartbeat only matter when a member dies; short values make that visible quickly.
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 500,
        // Reconnect fast after SetBrokerUp instead of backing off for up to 10 s.
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 200,
    };

    /// <summary>Builds a consumer whose librdkafka logs and errors are dropped instead of printed.</summary>
    public static IConsumer<byte[]?, byte[]?> BuildQuietConsumer(ConsumerConfig config) =>
        new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, _) => { })
            .Build();

    /// <inheritdoc />
    public void Dispose() => Mock.Dispose();
}
