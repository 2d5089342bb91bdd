using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Restarts behind finished messages and the bound of uncommitted messages: event ids 2020-2039.</summary>
internal static partial class Log
{
    [LoggerMessage(2020, LogLevel.Information, "Route {Route} member {Member}: {Topic}/{Partition} fetched again from offset {Offset} ({Cause}); {Finished} message(s) already finished after it are not delivered again")]
    public static partial void FinishedAheadRemembered(ILogger logger, string route, int member, string topic, int partition, long offset, string cause, int finished);

    [LoggerMessage(2021, LogLevel.Warning, "Route {Route}: {Topic}/{Partition} stopped fetching: {Uncommitted} offsets fetched past its last successful commit ({From}) reach max_uncommitted; it fetches again once a commit succeeds")]
    public static partial void WaitingForCommit(ILogger logger, string route, string topic, int partition, long uncommitted, long from);

    [LoggerMessage(2022, LogLevel.Information, "Route {Route}: {Topic}/{Partition} committed at {Offset}: fetching again")]
    public static partial void CommitCaughtUp(ILogger logger, string route, string topic, int partition, long offset);
}
