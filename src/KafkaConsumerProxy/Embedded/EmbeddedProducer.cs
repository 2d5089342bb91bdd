using Confluent.Kafka;

namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// Writes messages to explicit partitions of a topic, for seeding the embedded cluster in
/// <c>kcp demo</c> and in tests.
/// </summary>
internal static class EmbeddedProducer
{
    /// <summary>
    /// Produces <paramref name="messages"/> in order (acks=all) and returns once every one is
    /// acknowledged, with the offset each one got.
    /// </summary>
    /// <param name="bootstrapServers">E.g. <see cref="MockKafkaCluster.BootstrapServers"/>.</param>
    /// <param name="topic">Target topic; it must exist (see <see cref="MockKafkaCluster.CreateTopic"/>).</param>
    /// <param name="messages">Partition, key and value of each message; null key or value stays null.</param>
    /// <param name="configure">Adjusts the producer config, e.g. a shorter <c>message.timeout.ms</c>.</param>
    /// <param name="cancellationToken">Stops waiting for acknowledgements.</param>
    /// <returns>Where each message landed, in the order given.</returns>
    /// <exception cref="ProduceException{TKey, TValue}">A message was not delivered.</exception>
    public static async Task<IReadOnlyList<TopicPartitionOffset>> ProduceAsync(
        string bootstrapServers,
        string topic,
        IEnumerable<(int Partition, byte[]? Key, byte[]? Value)> messages,
        Action<ProducerConfig>? configure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.All,
            // Enough to batch a burst of test messages without adding visible latency.
            LingerMs = 5,
            EnableIdempotence = true,
        };
        configure?.Invoke(config);

        using var producer = new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, _) => { })
            .Build();
        var deliveries = messages
            .Select(m => producer.ProduceAsync(
                new TopicPartition(topic, m.Partition),
                new Message<byte[]?, byte[]?> { Key = m.Key, Value = m.Value },
                cancellationToken))
            .ToList();
        producer.Flush(cancellationToken);
        var results = await Task.WhenAll(deliveries);
        return Array.ConvertAll(results, r => r.TopicPartitionOffset);
    }
}
