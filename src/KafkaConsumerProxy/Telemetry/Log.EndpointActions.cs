using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>The endpoint's <c>Kcp-Action</c> answers (docs/ENDPOINT-CONTRACT.md): event ids 2260-2279.</summary>
internal static partial class Log
{
    [LoggerMessage(2260, LogLevel.Warning, "Route {Route}: Kcp-Action '{Value}' from {Host} is not one of retry, skip, dead-letter, pause, commit (or names two of them): ignored, the answer is judged by its status and body; said once per route")]
    public static partial void EndpointActionUnknown(ILogger logger, string route, string value, string host);

    [LoggerMessage(2261, LogLevel.Warning, "Route {Route}: the endpoint asked to dead-letter {Topic}/{Partition}@{Offset} (Kcp-Action: dead-letter, or dead-letter in a batch answer's actions) but the route has no dead_letter_topic: skipped without one, as its skip record says; said once per route")]
    public static partial void EndpointDeadLetterWithoutTopic(ILogger logger, string route, string topic, int partition, long offset);

    [LoggerMessage(2262, LogLevel.Warning, "Route {Route}: the endpoint {Host} asked to pause the route (Kcp-Action: pause with HTTP {Status}) at {Topic}/{Partition}@{Offset}; {Until}")]
    public static partial void EndpointAskedToPause(ILogger logger, string route, string host, int status, string topic, int partition, long offset, string until);

    [LoggerMessage(2263, LogLevel.Information, "Route {Route}: resumed after the endpoint's pause of {Seconds:F0} s (Retry-After)")]
    public static partial void EndpointPauseEnded(ILogger logger, string route, double seconds);

    [LoggerMessage(2264, LogLevel.Error, "Route {Route}: the endpoint's pause could not be applied: {Error}")]
    public static partial void EndpointPauseFailed(ILogger logger, string route, string error);
}
