namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>Unique topic and group names, so tests sharing a cluster never see each other's data.</summary>
public static class Names
{
    private static int s_counter;

    /// <summary>
    /// <paramref name="prefix"/> plus a counter and a random suffix, e.g. <c>orders-3-1f2e9a0c</c>;
    /// only characters Kafka allows in topic names.
    /// </summary>
    public static string Unique(string prefix) =>
        $"{prefix}-{Interlocked.Increment(ref s_counter)}-{Guid.NewGuid().ToString("N")[..8]}";
}
