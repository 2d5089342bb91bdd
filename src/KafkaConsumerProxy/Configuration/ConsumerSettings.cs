using Confluent.Kafka;

namespace KafkaConsumerProxy.Configuration;

/// <summary>The librdkafka settings of a route member: the proxy's fixed choices, then cluster and route overrides.</summary>
internal static class ConsumerSettings
{
    public static ConsumerConfig Create(RouteDefinition route, ClusterDefinition cluster, int member)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = route.Group,
            ClientId = $"kcp-{route.Name}-{member}",
            // A new group starts at the beginning of the topic: nothing already in it is passed over.
            // consumer_topic_conf `auto.offset.reset` overrides this.
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // A member learns of a rebalance at its next heartbeat; 1 s instead of 3 s shortens the time
            // in which commits are refused with REBALANCE_IN_PROGRESS.
            HeartbeatIntervalMs = 1000,
            // librdkafka prefetches up to 64 MiB per consumer by default, and a route runs `concurrency` consumers;
            // 4 MiB (some 40,000 messages of 100 bytes) keeps a large backlog from costing hundreds of MB while still far
            // ahead of delivery (see docs/PERFORMANCE-LAB.md). A smaller max_pending_bytes lowers it to match, so the
            // client never holds more ahead than the proxy itself may. librdkafka also caps fetch.max.bytes (50 MB) at
            // this unless it is set, though never below message.max.bytes; a partition's fetch stays at
            // max.partition.fetch.bytes (1 MiB, raised by the client for a larger message).
            QueuedMaxMessagesKbytes = PrefetchKbytes(route.Delivery.MaxPendingBytes),
            // librdkafka keeps up to 100,000 prefetched messages per partition (each with a few hundred bytes of its
            // own bookkeeping) unless the kbytes bound stops it first; half of max_pending (5,000 by default) is
            // ahead enough, and cut the 1,000,000-message backlog's peak by some 50 MB (docs/PERFORMANCE-LAB.md).
            QueuedMinMessages = PrefetchMessages(route.Delivery.MaxPending),
            // With those bounds a fast route empties a partition's prefetch queue in well under a second, and
            // librdkafka then waits fetch.queue.backoff.ms (default 1,000 ms) after finding the queue full before it
            // fetches that partition again: batch 100 against nginx stalled ~0.8 s of every second (33,000 msg/s;
            // 111,000 with 20 ms, docs/PERFORMANCE-LAB.md). The re-check costs no request while the queue stays full.
            FetchQueueBackoffMs = FetchQueueBackoffMs,
        };
        // The route's `assignor`, by default cooperative-sticky (incremental rebalancing): partitions that stay with a
        // member keep flowing during a rebalance, and a partition that moves is revoked (finished, committed) while the
        // group is stable, so that commit is accepted and its new owner starts exactly after it.
        config.Set("partition.assignment.strategy", route.Assignor);
        Apply(config, cluster.ConsumerConf);
        Apply(config, route.ConsumerConf);
        Apply(config, route.ConsumerTopicConf);

        // Not overridable: committing is the proxy's job, and only finished offsets may be committed.
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.EnablePartitionEof = false;
        return config;
    }

    /// <summary>librdkafka's <c>fetch.queue.backoff.ms</c> for a route member (the client's default is 1,000).</summary>
    internal const int FetchQueueBackoffMs = 20;

    /// <summary>librdkafka's prefetch (<c>queued.max.messages.kbytes</c>) for a route member: 4 MiB, or <c>max_pending_bytes</c> if less.</summary>
    internal static int PrefetchKbytes(int maxPendingBytes) => Math.Clamp(maxPendingBytes / 1024, 1, 4096);

    /// <summary>librdkafka's prefetch per partition in messages (<c>queued.min.messages</c>): half of <c>max_pending</c>.</summary>
    internal static int PrefetchMessages(int maxPending) => Math.Clamp(maxPending / 2, 1, 100_000);

    /// <summary>Replaces every secret value of <paramref name="config"/> found in <paramref name="message"/> with ***.</summary>
    public static string Scrub(string message, ConsumerConfig config)
    {
        foreach (var (key, value) in config)
        {
            if (!string.IsNullOrEmpty(value) && SecretRedactor.IsSecretKey(key))
            {
                message = message.Replace(value, "***", StringComparison.Ordinal);
            }
        }

        return message;
    }

    private static void Apply(ConsumerConfig config, IReadOnlyDictionary<string, string> settings)
    {
        foreach (var (key, value) in settings)
        {
            config.Set(key, value);
        }
    }
}
