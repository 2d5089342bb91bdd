using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>The group's lag as read from the broker: event ids 2180-2189.</summary>
internal static partial class Log
{
    [LoggerMessage(2180, LogLevel.Warning, "Route {Route}: the lag of group {Group} on {Topic} cannot be read from the cluster ({Error}); the last lag read stays shown, delivery goes on, and the read is retried (logged again once it succeeds)")]
    public static partial void LagUnreadable(ILogger logger, string route, string group, string topic, string error);

    [LoggerMessage(2181, LogLevel.Information, "Route {Route}: the lag of group {Group} on {Topic} is read from the cluster again")]
    public static partial void LagReadable(ILogger logger, string route, string group, string topic);
}
