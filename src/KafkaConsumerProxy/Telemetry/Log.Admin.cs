using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>The admin endpoint: metrics, health, status and actions API, dashboard: event ids 1700-1799.</summary>
internal static partial class Log
{
    [LoggerMessage(1700, LogLevel.Warning, "Route {Route}: skipped {Topic}/{Partition} offset {Offset} after {Attempts} attempts, as {Who} asked; last failure: {Reason}")]
    public static partial void MessageSkippedByOperator(ILogger logger, string route, string topic, int partition, long offset, int attempts, string who, string reason);

    [LoggerMessage(1701, LogLevel.Information, "Admin endpoint listening on http://{Address} (metrics /metrics, dashboard /, API /api/v1; {Auth}); address written to {File}")]
    public static partial void AdminListening(ILogger logger, string address, string auth, string file);

    [LoggerMessage(1702, LogLevel.Information, "Admin request by {Who}: {Method} {Path} -> {Status}")]
    public static partial void AdminAction(ILogger logger, string who, string method, string path, int status);

    [LoggerMessage(1703, LogLevel.Warning, "Admin request refused: {Method} {Path} from {Remote}: {Reason}")]
    public static partial void AdminRefused(ILogger logger, string method, string path, string remote, string reason);

    [LoggerMessage(1704, LogLevel.Error, "Audit log {Path} could not be written: {Error}")]
    public static partial void AuditWriteFailed(ILogger logger, string path, string error);

    [LoggerMessage(1705, LogLevel.Information, "Route {Route}: retry of {Topic}/{Partition} offset {Offset} now, as {Who} asked")]
    public static partial void RetryNowRequested(ILogger logger, string route, string topic, int partition, long offset, string who);

    [LoggerMessage(1708, LogLevel.Warning, "Route {Route} member {Member}: {Topic}/{Partition} moved by an operator's seek from {From} to {To}; its local record was reset, so the messages from {To} are delivered again")]
    public static partial void PartitionSeek(ILogger logger, string route, int member, string topic, int partition, long from, long to);

    [LoggerMessage(2060, LogLevel.Warning, "Admin endpoint: {What} (at most 16 connections per client address, 128 in all; then summarised every 30 s)")]
    public static partial void AdminConnectionClosed(ILogger logger, string what);

    [LoggerMessage(2061, LogLevel.Warning, "Admin endpoint: {Count} more connection(s) closed or refused to make room in the last {Seconds} s; latest: {What}")]
    public static partial void AdminConnectionsClosed(ILogger logger, long count, int seconds, string what);

    [LoggerMessage(2000, LogLevel.Warning, "Route {Route} member {Member}: {Topic}/{Partition} moved forward by {Who}'s seek from {From} to {To}; {Skipped} unfinished message(s) passed are skipped (kind seek), {Unread} offset(s) never fetched are passed")]
    public static partial void PartitionSeekForward(ILogger logger, string route, int member, string topic, int partition, long from, long to, string who, int skipped, long unread);

    [LoggerMessage(2062, LogLevel.Warning, "Admin requests refused: {Count} more in the last {Seconds} s (status {Status}); latest: {Method} {Path} from {Who}: {Reason}")]
    public static partial void AdminRefusedSummary(ILogger logger, long count, int seconds, string method, string path, string who, int status, string reason);

    [LoggerMessage(1706, LogLevel.Information, "Admin endpoint is off (admin.listen: off)")]
    public static partial void AdminOff(ILogger logger);
}
