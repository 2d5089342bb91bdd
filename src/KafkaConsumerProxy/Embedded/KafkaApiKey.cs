namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// Kafka protocol request types (ApiKey), for <see cref="MockKafkaCluster.PushRequestErrors"/>.
/// </summary>
internal static class KafkaApiKey
{
    /// <summary>ProduceRequest.</summary>
    public const short Produce = 0;

    /// <summary>FetchRequest.</summary>
    public const short Fetch = 1;

    /// <summary>ListOffsetsRequest.</summary>
    public const short ListOffsets = 2;

    /// <summary>MetadataRequest.</summary>
    public const short Metadata = 3;

    /// <summary>OffsetCommitRequest.</summary>
    public const short OffsetCommit = 8;

    /// <summary>OffsetFetchRequest.</summary>
    public const short OffsetFetch = 9;

    /// <summary>FindCoordinatorRequest.</summary>
    public const short FindCoordinator = 10;

    /// <summary>JoinGroupRequest.</summary>
    public const short JoinGroup = 11;

    /// <summary>HeartbeatRequest.</summary>
    public const short Heartbeat = 12;

    /// <summary>LeaveGroupRequest.</summary>
    public const short LeaveGroup = 13;

    /// <summary>SyncGroupRequest.</summary>
    public const short SyncGroup = 14;
}
