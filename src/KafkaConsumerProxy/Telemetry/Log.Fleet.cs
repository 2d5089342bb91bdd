using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>The fleet's control topic: event ids 2200-2219.</summary>
internal static partial class Log
{
    [LoggerMessage(2200, LogLevel.Information, "Fleet: created control topic {Topic} on cluster {Cluster} (compacted, 1 partition)")]
    public static partial void FleetTopicCreated(ILogger logger, string topic, string cluster);

    [LoggerMessage(2201, LogLevel.Error, "Fleet: control topic {Topic} on cluster {Cluster} cannot be used: {Reason}; routes keep delivering with the operator's state of routes.json, fleet actions answer 503 until it can (logged again once it can)")]
    public static partial void FleetTopicUnavailable(ILogger logger, string topic, string cluster, string reason);

    [LoggerMessage(2202, LogLevel.Information, "Fleet: control topic {Topic} on cluster {Cluster} can be used again")]
    public static partial void FleetTopicAvailable(ILogger logger, string topic, string cluster);

    [LoggerMessage(2203, LogLevel.Warning, "Fleet: record {Partition}@{Offset} of control topic {Topic} ignored: {Problem} (records of this kind are logged once)")]
    public static partial void FleetRecordIgnored(ILogger logger, string topic, int partition, long offset, string problem);

    [LoggerMessage(2207, LogLevel.Warning, "Fleet: control topic {Topic} on cluster {Cluster} could not be created ({Reason}); it is written to anyway, which creates it where the brokers allow it, but not compacted: create it with cleanup.policy=compact")]
    public static partial void FleetTopicNotCreated(ILogger logger, string topic, string cluster, string reason);

    [LoggerMessage(2204, LogLevel.Information, "Fleet: instance {Instance} on {Topics}; the operator's intents there applied before the routes start: {Intents}")]
    public static partial void FleetJoined(ILogger logger, string instance, string topics, int intents);

    [LoggerMessage(2205, LogLevel.Information, "Fleet: {Action} of route {Route} {Partition}@{Offset} asked by {By} through instance {Via} applied here: {Outcome}")]
    public static partial void FleetPartitionActionApplied(ILogger logger, string action, string route, int partition, long offset, string by, string via, string outcome);

    [LoggerMessage(2208, LogLevel.Information, "Fleet: seek of route {Route} partition {Partition} asked by {By} through instance {Via} applied here: {Outcome}")]
    public static partial void FleetSeekApplied(ILogger logger, string route, int partition, string by, string via, string outcome);

    [LoggerMessage(2206, LogLevel.Warning, "Fleet: the control topic was not read to its end within {Seconds} s; routes start with the operator's state of routes.json")]
    public static partial void FleetCatchUpSlow(ILogger logger, int seconds);
}
