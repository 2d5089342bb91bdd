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

/// <summary>What became of the one message of <see cref="MessageDeliverer.DeliverAsync"/>; abandoned unless reported otherwise.</summary>
internal sealed class SingleOutcome
{
    public SingleOutcome() => Finished = (_, disposition) =>
    {
        Disposition = disposition;
        return ValueTask.CompletedTask;
    };

    public MessageDisposition Disposition { get; private set; } = MessageDisposition.Abandoned;

    public Func<KafkaRecord, MessageDisposition, ValueTask> Finished { get; }
}
