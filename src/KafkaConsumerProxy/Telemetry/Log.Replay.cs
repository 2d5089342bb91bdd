using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Range replays run by kcp (<c>POST /api/v1/routes/{route}/replays</c>): event ids 2400-2409.</summary>
internal static partial class Log
{
    [LoggerMessage(2400, LogLevel.Information, "Route {Route}: replay {Id} started by {Who}: topic {Topic}, {Total} offset(s) ({Range}) to {Target}{DryRun}")]
    public static partial void ReplayStarted(ILogger logger, string route, string id, string who, string topic, long total, string range, string target, string dryRun);

    [LoggerMessage(2401, LogLevel.Information, "Route {Route}: replay {Id} {State}: {Sent} sent, {Accepted} accepted, {Failed} failed, {Skipped} skipped, {Outside} outside the time range{Error}")]
    public static partial void ReplayEnded(ILogger logger, string route, string id, string state, long sent, long accepted, long failed, long skipped, long outside, string error);

    [LoggerMessage(2402, LogLevel.Information, "Route {Route}: replay {Id} cancelled by {Who}")]
    public static partial void ReplayCancelRequested(ILogger logger, string route, string id, string who);
}
