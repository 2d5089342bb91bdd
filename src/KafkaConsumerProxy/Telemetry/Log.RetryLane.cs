using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>A route's non-blocking retry lane (<c>retry_topic</c>): event ids 2440-2449.</summary>
internal static partial class Log
{
    [LoggerMessage(2440, LogLevel.Information, "Route {Route}: {Topic}/{Partition}@{Offset} moved to the retry lane {RetryTopic} after {Attempts} attempt(s): round {Round} of {Rounds}, due in {DelayMs} ms; its partition goes on without it")]
    public static partial void RetryLaneCopied(ILogger logger, string route, string topic, int partition, long offset, string retryTopic, int attempts, int round, int rounds, long delayMs);

    [LoggerMessage(2441, LogLevel.Warning, "Route {Route}: the copy of {Topic}/{Partition}@{Offset} could not be written to the retry lane {RetryTopic} ({Failures} failed write(s) so far): {Reason}; the message is retried in place and not committed")]
    public static partial void RetryLaneWriteFailed(ILogger logger, string route, string topic, int partition, long offset, string retryTopic, long failures, string reason);

    [LoggerMessage(2442, LogLevel.Warning, "Route {Route}: {Topic}/{Partition}@{Offset} in the retry lane has no kcp.retry.* headers (not written by kcp); it is delivered as it is, with the route's own retry rules (logged once per route)")]
    public static partial void RetryLaneForeignRecord(ILogger logger, string route, string topic, int partition, long offset);
}
