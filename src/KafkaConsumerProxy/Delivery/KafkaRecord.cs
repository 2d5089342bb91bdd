namespace KafkaConsumerProxy.Delivery;

/// <summary>One consumed message, as the delivery layer sees it; values are the exact bytes from the log.</summary>
public sealed record KafkaRecord(
    string Topic,
    int Partition,
    long Offset,
    long TimestampMs,
    byte[]? Key,
    byte[]? Value);
