using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Every log line the proxy writes, with stable event ids that operators can alert on.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Route {Route} started: topic {Topic}, group {Group}, cluster {Cluster}, {Members} member(s), guarantee mode {Mode}, {DeliveryMode}")]
    public static partial void RouteStarted(ILogger logger, string route, string topic, string group, string cluster, int members, int mode, string deliveryMode);

    [LoggerMessage(2, LogLevel.Information, "Route {Route} member {Member}: partitions assigned [{Partitions}]")]
    public static partial void PartitionsAssigned(ILogger logger, string route, int member, string partitions);

    [LoggerMessage(3, LogLevel.Information, "Route {Route} member {Member}: partitions revoked [{Partitions}]")]
    public static partial void PartitionsRevoked(ILogger logger, string route, int member, string partitions);

    [LoggerMessage(4, LogLevel.Warning, "Route {Route} member {Member}: partitions lost [{Partitions}]; their unfinished messages will be delivered by the new owner")]
    public static partial void PartitionsLost(ILogger logger, string route, int member, string partitions);

    [LoggerMessage(5, LogLevel.Warning, "Route {Route}: delivery of {Topic}/{Partition}@{Offset} failed (attempt {Attempt}): {Reason}")]
    public static partial void DeliveryFailed(ILogger logger, string route, string topic, int partition, long offset, int attempt, string reason);

    [LoggerMessage(6, LogLevel.Warning, "Route {Route}: {Topic}/{Partition}@{Offset} is blocked: {Attempts} failed attempts over {Seconds:F0} s, the messages behind it wait; last failure: {Reason}")]
    public static partial void DeliveryBlocked(ILogger logger, string route, string topic, int partition, long offset, int attempts, double seconds, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Route {Route}: slow delivery of {Topic}/{Partition}@{Offset}: {ElapsedMs} ms (slow_time_ms {SlowMs}) to {Host}")]
    public static partial void DeliverySlow(ILogger logger, string route, string topic, int partition, long offset, long elapsedMs, int slowMs, string host);

    [LoggerMessage(8, LogLevel.Warning, "Route {Route}: skipped {Topic}/{Partition}@{Offset} after {Attempts} attempt(s); last failure: {Reason}")]
    public static partial void MessageSkipped(ILogger logger, string route, string topic, int partition, long offset, int attempts, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Route {Route}: manually skipped {Topic}/{Partition}@{Offset} after {Attempts} attempt(s); last failure: {Reason}")]
    public static partial void MessageSkippedManually(ILogger logger, string route, string topic, int partition, long offset, int attempts, string reason);

    [LoggerMessage(10, LogLevel.Warning, "Route {Route} member {Member}: commit of [{Offsets}] failed: {Error}")]
    public static partial void CommitFailed(ILogger logger, string route, int member, string offsets, string error);

    [LoggerMessage(11, LogLevel.Warning, "Route {Route} member {Member}: consume error: {Error}")]
    public static partial void ConsumeError(ILogger logger, string route, int member, string error);

    [LoggerMessage(12, LogLevel.Debug, "Route {Route} member {Member}: librdkafka {Facility}: {Message}")]
    public static partial void KafkaLog(ILogger logger, string route, int member, string facility, string message);

    [LoggerMessage(13, LogLevel.Warning, "Route {Route} member {Member}: Kafka client error: {Error}")]
    public static partial void KafkaError(ILogger logger, string route, int member, string error);

    [LoggerMessage(14, LogLevel.Critical, "Route {Route} member {Member}: fatal Kafka client error, stopping the member: {Error}")]
    public static partial void KafkaFatal(ILogger logger, string route, int member, string error);

    [LoggerMessage(15, LogLevel.Information, "Route {Route} member {Member} stopped")]
    public static partial void MemberStopped(ILogger logger, string route, int member);

    [LoggerMessage(16, LogLevel.Warning, "Manual skip requested (SIGUSR1): messages now being retried will be skipped")]
    public static partial void ManualSkipRequested(ILogger logger);

    [LoggerMessage(17, LogLevel.Debug, "Route {Route} member {Member}: committed [{Offsets}]")]
    public static partial void Committed(ILogger logger, string route, int member, string offsets);

    [LoggerMessage(18, LogLevel.Information, "Stopping: finishing in-flight deliveries, committing and leaving the groups")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(19, LogLevel.Information, "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(20, LogLevel.Error, "Route {Route} member {Member} failed: {Error}")]
    public static partial void MemberFailed(ILogger logger, string route, int member, string error);

    [LoggerMessage(21, LogLevel.Warning, "Local offset record {Partition} in {Path} is damaged; it is ignored")]
    public static partial void LocalRecordDamaged(ILogger logger, string partition, string path);

    [LoggerMessage(22, LogLevel.Error, "Local offset record {Partition} could not be written: {Error}")]
    public static partial void LocalRecordWriteFailed(ILogger logger, string partition, string error);

    [LoggerMessage(23, LogLevel.Information, "Route {Route}: {Topic}/{Partition} assigned: committed {Committed}, local record {Local}, starting at {Start}")]
    public static partial void PartitionStart(ILogger logger, string route, string topic, int partition, string committed, string local, string start);

    [LoggerMessage(24, LogLevel.Warning, "Route {Route}: offset behind on {Topic}/{Partition}: the group's committed offset {Committed} is behind the local record {Local} ({Count} message(s) would repeat)")]
    public static partial void OffsetBehind(ILogger logger, string route, string topic, int partition, string committed, long local, long count);

    [LoggerMessage(25, LogLevel.Warning, "Route {Route}: offset restored on {Topic}/{Partition}: seeking to {Offset} from the local record ({AgeSeconds:F0} s old) and committing it")]
    public static partial void OffsetRestored(ILogger logger, string route, string topic, int partition, long offset, double ageSeconds);

    [LoggerMessage(26, LogLevel.Warning, "Route {Route}: offset gap on {Topic}/{Partition}: next message is {Offset} but the local record ends at {Local}; {Gap} offset(s) were never fetched (deleted or skipped by the cluster)")]
    public static partial void OffsetGap(ILogger logger, string route, string topic, int partition, long offset, long local, long gap);

    [LoggerMessage(27, LogLevel.Information, "Route {Route}: filtered {Count} repeated message(s) on {Topic}/{Partition} below the local record {Local}")]
    public static partial void RepeatsFiltered(ILogger logger, string route, string topic, int partition, long count, long local);

    [LoggerMessage(1200, LogLevel.Warning, "Route {Route}: {Topic}/{Partition}: {Count} more failed attempt(s) in the last {Seconds:F0} s (not logged one by one); latest: offset {Offset}, attempt {Attempt}: {Reason}")]
    public static partial void DeliveryFailuresRepeated(ILogger logger, string route, string topic, int partition, long count, double seconds, long offset, int attempt, string reason);

    [LoggerMessage(1201, LogLevel.Warning, "Route {Route} member {Member}: Kafka client error {Code} repeated {Count} more time(s) in the last {Seconds:F0} s (not logged one by one); latest: {Error}")]
    public static partial void KafkaErrorsRepeated(ILogger logger, string route, int member, string code, long count, double seconds, string error);

    [LoggerMessage(1202, LogLevel.Warning, "Route {Route} member {Member}: consume error {Code} repeated {Count} more time(s) in the last {Seconds:F0} s (not logged one by one); latest: {Error}")]
    public static partial void ConsumeErrorsRepeated(ILogger logger, string route, int member, string code, long count, double seconds, string error);

    [LoggerMessage(1204, LogLevel.Warning, "Manual skip request (SIGUSR1) not taken: no message is being retried, so there is nothing to skip")]
    public static partial void ManualSkipNothingRetried(ILogger logger);

    [LoggerMessage(1203, LogLevel.Warning, "Ignored {Count} manual skip request(s) (SIGUSR1) that came within {IntervalMs} ms of the previous accepted one; at most one request per second counts")]
    public static partial void ManualSkipIgnored(ILogger logger, long count, long intervalMs);

    [LoggerMessage(1400, LogLevel.Error, "Local offset record {Path} was removed while running (state_dir deleted?); re-created it holding offset {NextOffset}")]
    public static partial void LocalRecordRecreated(ILogger logger, string path, long nextOffset);

    [LoggerMessage(1401, LogLevel.Warning, "Local offset record {Path} written again after {Failures} failed attempt(s)")]
    public static partial void LocalRecordRecovered(ILogger logger, string path, int failures);

    [LoggerMessage(1402, LogLevel.Error, "Route {Route}: unexpected fault in the delivery of {Topic}/{Partition}@{Offset}; the partition is restarted from its last finished offset")]
    public static partial void PartitionFaulted(ILogger logger, Exception exception, string route, string topic, int partition, string offset);

    [LoggerMessage(1403, LogLevel.Warning, "Route {Route} member {Member}: {Topic}/{Partition} restarted at offset {Offset} after a fault; its unfinished messages are delivered again")]
    public static partial void PartitionRestarted(ILogger logger, string route, int member, string topic, int partition, long offset);

    [LoggerMessage(1404, LogLevel.Error, "Skip record of {Topic}/{Partition}@{Offset} could not be written to {Path}: {Error}; the message is not skipped until it is (failure {Failures}, retrying)")]
    public static partial void SkipRecordWriteFailed(ILogger logger, string topic, int partition, long offset, string path, string error, int failures);

    [LoggerMessage(1405, LogLevel.Warning, "Skip record of {Topic}/{Partition}@{Offset} written to {Path} after {Failures} failed attempt(s)")]
    public static partial void SkipRecordWritten(ILogger logger, string topic, int partition, long offset, string path, int failures);

    [LoggerMessage(1406, LogLevel.Error, "Skip records file {Path} was removed while running (state_dir deleted?); re-created it")]
    public static partial void SkipLogRecreated(ILogger logger, string path);

    [LoggerMessage(1407, LogLevel.Error, "Route {Route} member {Member}: {Step} failed while stopping; going on with the rest: {Error}")]
    public static partial void StopStepFailed(ILogger logger, string route, int member, string step, string error);

    [LoggerMessage(1408, LogLevel.Error, "Route {Route} member {Member}: leaving the group has not finished after {Seconds:0} s (the Kafka client's close is stuck); the stop goes on without it: what finished was committed before, and the group reassigns this member's partitions at its session timeout")]
    public static partial void LeaveOverdue(ILogger logger, string route, int member, double seconds);

    [LoggerMessage(1300, LogLevel.Warning, "Route {Route}: local offset record of {Topic}/{Partition} ignored: it was written for cluster id {RecordCluster} (last done {Local}), but cluster {Cluster} has id {ClusterId} (log {Low}..{High}); nothing is filtered, restored or committed from it, and new progress replaces it")]
    public static partial void LocalRecordOtherCluster(ILogger logger, string route, string topic, int partition, string recordCluster, long local, string cluster, string clusterId, string low, string high);

    [LoggerMessage(1301, LogLevel.Warning, "Route {Route}: local offset record of {Topic}/{Partition} ignored: last done {Local} lies outside the partition's log (low watermark {Low}, high watermark {High}; record cluster id {RecordCluster}, cluster id {ClusterId}); nothing is filtered, restored or committed from it, and new progress replaces it")]
    public static partial void LocalRecordOutsideLog(ILogger logger, string route, string topic, int partition, long local, long low, long high, string recordCluster, string clusterId);

    [LoggerMessage(1302, LogLevel.Warning, "Route {Route}: local offset record of {Topic}/{Partition} not trusted: the partition's log bounds could not be read ({Error}), so the record (last done {Local}, record cluster id {RecordCluster}, cluster id {ClusterId}) cannot be checked; nothing is filtered or restored from it and delivery starts at the committed offset (repeats possible)")]
    public static partial void LocalRecordUnchecked(ILogger logger, string route, string topic, int partition, string error, long local, string recordCluster, string clusterId);

    [LoggerMessage(1303, LogLevel.Information, "Route {Route}: local offset record of {Topic}/{Partition} (last done {Local}) trusted on the log bounds alone (low watermark {Low}, high watermark {High}): record cluster id {RecordCluster}, cluster id {ClusterId}")]
    public static partial void LocalRecordClusterUnchecked(ILogger logger, string route, string topic, int partition, long local, long low, long high, string recordCluster, string clusterId);

    [LoggerMessage(1304, LogLevel.Warning, "Route {Route}: filtering repeats on {Topic}/{Partition}: offset {Offset} is below the local record {Local}, so it and the messages after it up to {Local} were delivered before on this machine and are not delivered again")]
    public static partial void RepeatFilteringStarted(ILogger logger, string route, string topic, int partition, long offset, long local);

    [LoggerMessage(1305, LogLevel.Information, "Route {Route}: still filtering repeats on {Topic}/{Partition}: {Count} filtered so far, now at offset {Offset} of up to {Local}")]
    public static partial void RepeatFilteringProgress(ILogger logger, string route, string topic, int partition, long count, long offset, long local);

    [LoggerMessage(1306, LogLevel.Warning, "Route {Route}: the group's committed offset {Committed} of {Topic}/{Partition} lies outside the partition's log (low watermark {Low}, high watermark {High}); the consumer starts where auto.offset.reset says")]
    public static partial void CommittedOutsideLog(ILogger logger, string route, string topic, int partition, long committed, long low, long high);

    [LoggerMessage(1100, LogLevel.Critical, "Cannot start: {What}: {Reason}")]
    public static partial void StartFailed(ILogger logger, string what, string reason);

    [LoggerMessage(1600, LogLevel.Information, "Route {Route}: adaptive in-flight limit {Before} -> {After} (upper bound {Max})")]
    public static partial void ConcurrencyLimitChanged(ILogger logger, string route, int before, int after, int max);

    [LoggerMessage(1601, LogLevel.Warning, "Route {Route}: HTTP {Status} from {Host} with Retry-After: no request of the route starts for {DelayMs:F0} ms")]
    public static partial void EndpointAskedToWait(ILogger logger, string route, int status, string host, double delayMs);

    [LoggerMessage(1602, LogLevel.Error, "Route {Route}: {Topic}/{Partition}@{Offset} stays blocked: it cannot be written to dead-letter topic {DeadLetterTopic} ({Failures} failed write(s)), so it is not skipped and is tried again: {Reason}")]
    public static partial void DeadLetterWriteFailed(ILogger logger, string route, string topic, int partition, long offset, string deadLetterTopic, int failures, string reason);

    [LoggerMessage(1603, LogLevel.Information, "Route {Route}: {Topic}/{Partition}@{Offset} written to dead-letter topic {DeadLetterTopic} after {Failures} failed write(s)")]
    public static partial void DeadLetterWritten(ILogger logger, string route, string topic, int partition, long offset, string deadLetterTopic, int failures);

    [LoggerMessage(1590, LogLevel.Information, "Control socket {Shared} is served by another kcp sharing this state_dir; this one listens on {Own}, and kcp routes reaches both")]
    public static partial void ControlSocketShared(ILogger logger, string shared, string own);
}
