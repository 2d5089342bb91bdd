using Confluent.Kafka;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>Assertions over what an endpoint received, phrased as a user would check them.</summary>
public static class Delivered
{
    /// <summary>Requests the endpoint accepted (no fault applied).</summary>
    public static IEnumerable<ReceivedRequest> Accepted(this IEnumerable<ReceivedRequest> requests) =>
        requests.Where(r => !r.Fault.IsFailure);

    /// <summary>True when every (partition, offset) of <paramref name="expected"/> was accepted.</summary>
    public static bool AllAccepted(this IReadOnlyList<ReceivedRequest> requests, IReadOnlyDictionary<int, int> expected)
    {
        var accepted = requests.Accepted().Select(r => (r.Partition, r.Offset)).ToHashSet();
        return expected.All(p => Enumerable.Range(0, p.Value).All(o => accepted.Contains((p.Key, (long)o))));
    }

    /// <summary>Asserts each partition's accepted offsets are 0..n-1, each exactly once, in arrival order.</summary>
    public static void AssertExactlyOnceInOrder(IReadOnlyList<ReceivedRequest> requests, IReadOnlyDictionary<int, int> expected)
    {
        foreach (var (partition, count) in expected)
        {
            var offsets = requests.Accepted().Where(r => r.Partition == partition).Select(r => r.Offset!.Value).ToList();
            Assert.Equal(Enumerable.Range(0, count).Select(o => (long)o), offsets);
        }
    }

    /// <summary>Asserts that, per partition, attempts never went back to an offset once a later one was tried (sync order).</summary>
    public static void AssertAttemptsInOrder(IReadOnlyList<ReceivedRequest> requests)
    {
        foreach (var partition in requests.GroupBy(r => r.Partition))
        {
            var offsets = partition.Select(r => r.Offset!.Value).ToList();
            for (var i = 1; i < offsets.Count; i++)
            {
                Assert.True(offsets[i] >= offsets[i - 1], $"partition {partition.Key}: offset {offsets[i]} attempted after {offsets[i - 1]}");
            }
        }
    }

    /// <summary>The group's committed offsets (next offset to consume) per partition; -1001 when none.</summary>
    public static Dictionary<int, long> CommittedOffsets(string bootstrapServers, string group, string topic, int partitions)
    {
        using var consumer = TestCluster.BuildQuietConsumer(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = group });
        var committed = consumer.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10));
        return committed.ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
    }

    /// <summary>Polls the group's committed offsets until <paramref name="condition"/> holds for them; returns them.</summary>
    /// <exception cref="TimeoutException">Not within <paramref name="timeout"/>; the message names <paramref name="what"/> and the last offsets.</exception>
    /// <remarks>A read the cluster refuses or does not answer in time (its coordinator busy with a rebalance) counts as "not yet".</remarks>
    public static async Task<Dictionary<int, long>> WaitForCommittedAsync(string bootstrapServers, string group, string topic, int partitions, Func<IReadOnlyDictionary<int, long>, bool> condition, string what, TimeSpan timeout)
    {
        string? failure = null;
        var committed = await Eventually.ValueAsync(
            () =>
            {
                try
                {
                    return CommittedOffsets(bootstrapServers, group, topic, partitions);
                }
                catch (KafkaException ex)
                {
                    failure = ex.Message;
                    return null;
                }
            },
            committed => committed is not null && condition(committed),
            what,
            timeout,
            committed => committed is null
                ? $"{topic}'s committed offsets not read: {failure}"
                : $"{topic} committed at " + string.Join(", ", committed.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}")),
            TimeSpan.FromMilliseconds(100));
        return committed!;
    }

    /// <summary>Messages numbered per partition: partition p gets <paramref name="perPartition"/> values "p-o".</summary>
    public static IEnumerable<(int Partition, byte[]? Key, byte[]? Value)> Numbered(int partitions, int perPartition) =>
        from o in Enumerable.Range(0, perPartition)
        from p in Enumerable.Range(0, partitions)
        select (p, (byte[]?)System.Text.Encoding.UTF8.GetBytes($"key-{o % 7}"), (byte[]?)System.Text.Encoding.UTF8.GetBytes($"{p}-{o}"));
}
