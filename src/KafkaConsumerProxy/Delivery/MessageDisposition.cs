namespace KafkaConsumerProxy.Delivery;

/// <summary>How a message left the delivery loop.</summary>
internal enum MessageDisposition
{
    /// <summary>The endpoint accepted it: may be committed.</summary>
    Delivered,

    /// <summary>Skipped by policy or by hand, with a skip record written: may be committed.</summary>
    Skipped,

    /// <summary>Given up because the partition was revoked or the process is stopping: must not be committed.</summary>
    Abandoned,

    /// <summary>Failed, and its copy acknowledged by the route's retry topic (<see cref="RetryLane"/>): may be committed; the lane delivers it.</summary>
    Requeued,
}
