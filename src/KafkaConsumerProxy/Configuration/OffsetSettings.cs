namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's offset settings: commit mode and the use of local offset records.</summary>
internal sealed record OffsetSettings
{
    /// <summary><c>message_delivery_guarantees</c>: default <see cref="RouteDefaults.MessageDeliveryGuarantees"/>.</summary>
    public DeliveryGuarantee MessageDeliveryGuarantees { get; init; } = RouteDefaults.MessageDeliveryGuarantees;

    public static readonly RouteKey MessageDeliveryGuaranteesKey = RouteKey.Integer("message_delivery_guarantees", 1, 3, (int)RouteDefaults.MessageDeliveryGuarantees) with { Description = "Commit mode: 1 batched commits, 2 at least once, 3 no repeat on one machine (local records flushed)." };

    /// <summary><c>commit_interval_ms</c>: commit period in mode 1; default <see cref="RouteDefaults.CommitIntervalMs"/>.</summary>
    public int CommitIntervalMs { get; init; } = RouteDefaults.CommitIntervalMs;

    public static readonly RouteKey CommitIntervalMsKey = RouteKey.Integer("commit_interval_ms", 1, 3_600_000, RouteDefaults.CommitIntervalMs) with { Description = "Commit period in mode 1, in milliseconds." };

    /// <summary>
    /// <c>max_uncommitted</c>: how far delivery of a partition may run ahead of its last successful commit, in offsets;
    /// at the bound fetching of the partition pauses until a commit succeeds again, so a takeover repeats at most this
    /// many messages of it (plus those in flight). 0 = no bound. Default <see cref="RouteDefaults.MaxUncommitted"/>.
    /// </summary>
    public int MaxUncommitted { get; init; } = RouteDefaults.MaxUncommitted;

    public static readonly RouteKey MaxUncommittedKey = RouteKey.Integer("max_uncommitted", 0, RouteDefaults.MaxMaxUncommitted, RouteDefaults.MaxUncommitted) with { Description = "Offsets of a partition fetched past its last successful commit before its fetching pauses; 0 = no bound." };

    /// <summary>
    /// <c>use_saved_offset_time</c>: seconds; see offset anomalies. Negative disables restoring; default 0, the previous
    /// service's usual value: a committed offset behind this machine's record is restored from the record.
    /// </summary>
    public int UseSavedOffsetTime { get; init; }

    public static readonly RouteKey UseSavedOffsetTimeKey = RouteKey.Integer("use_saved_offset_time", int.MinValue, int.MaxValue, 0) with { Description = "Seconds: when the committed offset is behind this machine's local record, restore from the record if it is at least this old; negative = never." };
}
