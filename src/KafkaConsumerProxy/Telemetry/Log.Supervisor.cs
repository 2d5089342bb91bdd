using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Reloads that do not wait on a route's requests, and waits for shared budgets: event ids 2100-2119.</summary>
internal static partial class Log
{
    [LoggerMessage(2100, LogLevel.Warning, "Route {Route}: requests still in flight {Seconds:0.#} s after it was asked to stop ({Cause}); cancelled, their messages stay uncommitted and are delivered again")]
    public static partial void RouteInFlightCancelled(ILogger logger, string route, double seconds, string cause);

    [LoggerMessage(2101, LogLevel.Information, "After the reload ({Trigger}), still in progress: {Work}")]
    public static partial void ReloadInProgress(ILogger logger, string trigger, string work);

    [LoggerMessage(2102, LogLevel.Information, "Done after a reload: {Work}")]
    public static partial void ReloadWorkDone(ILogger logger, string work);
}
