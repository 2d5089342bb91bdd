using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Route supervision, operations, the control socket and reloads: event ids 1500-1599.</summary>
internal static partial class Log
{
    [LoggerMessage(1500, LogLevel.Information, "Route {Route}: {From} -> {To}: {Cause}")]
    public static partial void RouteStateChanged(ILogger logger, string route, string from, string to, string cause);

    [LoggerMessage(1501, LogLevel.Error, "Route {Route}: {From} -> failed: {Reason}")]
    public static partial void RouteFailed(ILogger logger, string route, string from, string reason);

    [LoggerMessage(1502, LogLevel.Warning, "Route {Route}: starting again in {Seconds:0.#} s (failure {Failures} in a row); the other routes are not affected")]
    public static partial void RouteRestartScheduled(ILogger logger, string route, double seconds, int failures);

    [LoggerMessage(1503, LogLevel.Warning, "Route {Route}: starts {State} as an operator left it (recorded in {Path}); 'kcp routes {Action}' undoes it")]
    public static partial void RouteOperatorStateRestored(ILogger logger, string route, string state, string path, string action);

    [LoggerMessage(1504, LogLevel.Information, "Route operation {Action} on [{Routes}] requested by {Who}")]
    public static partial void RouteOperationRequested(ILogger logger, string action, string routes, string who);

    [LoggerMessage(1505, LogLevel.Error, "Operator route state {Path} could not be written: {Error}; the change applies until kcp stops but is not kept")]
    public static partial void OperatorStateWriteFailed(ILogger logger, string path, string error);

    [LoggerMessage(1506, LogLevel.Warning, "Operator route state {Path} is unreadable and is ignored: {Error}")]
    public static partial void OperatorStateUnreadable(ILogger logger, string path, string error);

    [LoggerMessage(1507, LogLevel.Information, "Control socket listening on {Path} (kcp routes, kcp reload)")]
    public static partial void ControlListening(ILogger logger, string path);

    [LoggerMessage(1508, LogLevel.Warning, "Control socket {Path} was left by a kcp that no longer runs; replaced")]
    public static partial void ControlStaleSocketReplaced(ILogger logger, string path);

    [LoggerMessage(1509, LogLevel.Information, "Reload ({Trigger}): configuration changed, {Added} route(s) added, {Removed} removed, {Changed} changed, {Unchanged} unchanged")]
    public static partial void ReloadApplied(ILogger logger, string trigger, int added, int removed, int changed, int unchanged);

    [LoggerMessage(1510, LogLevel.Error, "Reload ({Trigger}) rejected, nothing changed: {Count} error(s) in the new configuration")]
    public static partial void ReloadRejected(ILogger logger, string trigger, int count);

    [LoggerMessage(1511, LogLevel.Error, "Reload rejected: {Error}")]
    public static partial void ReloadError(ILogger logger, string error);

    [LoggerMessage(1512, LogLevel.Warning, "Reload: {Setting} changed from {Old} to {New}; it applies only after a restart of kcp and is ignored until then")]
    public static partial void ReloadNeedsRestart(ILogger logger, string setting, string old, string @new);

    [LoggerMessage(1513, LogLevel.Information, "Reload ({Trigger}): no route or cluster changed")]
    public static partial void ReloadUnchanged(ILogger logger, string trigger);

    [LoggerMessage(1514, LogLevel.Warning, "Watching {Path} for reloads failed: {Error}; 'kcp reload' still works")]
    public static partial void ReloadWatchFailed(ILogger logger, string path, string error);

    [LoggerMessage(1580, LogLevel.Warning, "Reload (SIGHUP) ignored: the routes are starting or stopping")]
    public static partial void ReloadSignalIgnored(ILogger logger);

    [LoggerMessage(2040, LogLevel.Information, "Watching for reloads: {Directories} (symbolic links resolved: {Links})")]
    public static partial void ReloadWatching(ILogger logger, string directories, string links);

    [LoggerMessage(1515, LogLevel.Information, "Route {Route} member {Member}: {Action} ({Partitions} partition(s))")]
    public static partial void MemberPauseApplied(ILogger logger, string route, int member, string action, int partitions);
}
