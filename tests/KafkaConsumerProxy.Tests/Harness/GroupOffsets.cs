using Confluent.Kafka;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>Changes a group's committed offsets behind the proxy's back, as a lost or reset commit would.</summary>
public static class GroupOffsets
{
    /// <summary>Joins the (empty) group alone, commits <paramref name="offsets"/>, and leaves.</summary>
    public static async Task CommitBehindTheBackAsync(string bootstrapServers, string group, string topic, IReadOnlyDictionary<int, long> offsets)
    {
        var assigned = false;
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            FetchWaitMaxMs = 20,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, _) => { })
            .SetPartitionsAssignedHandler((_, p) => assigned |= p.Count > 0)
            .Build();
        consumer.Subscribe(topic);
        // Consume runs the group protocol and the assignment callback; it waits up to 100 ms itself.
        await Eventually.TrueAsync(
            () =>
            {
                consumer.Consume(TimeSpan.FromMilliseconds(100));
                return assigned;
            },
            $"joined {group} alone to change its offsets",
            TimeSpan.FromSeconds(20),
            () => "no partition assigned",
            TimeSpan.Zero);
        consumer.Commit(offsets.Select(o => new TopicPartitionOffset(topic, o.Key, o.Value)));
        consumer.Close();
    }
}
