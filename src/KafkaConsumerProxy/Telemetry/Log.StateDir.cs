using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Files a running kcp keeps in its state_dir for the CLI: event ids 2120-2139.</summary>
internal static partial class Log
{
    [LoggerMessage(2120, LogLevel.Warning, "Control socket {Path} was removed (state_dir deleted?); listening on it again")]
    public static partial void ControlSocketRecreated(ILogger logger, string path);

    [LoggerMessage(2121, LogLevel.Error, "Control socket {Path} was removed and cannot be created again: {Error}; retried")]
    public static partial void ControlSocketRecreateFailed(ILogger logger, string path, string error);

    [LoggerMessage(2122, LogLevel.Warning, "Admin address file {File} was removed (state_dir deleted?); written again")]
    public static partial void AdminAddressFileRecreated(ILogger logger, string file);

    [LoggerMessage(2123, LogLevel.Warning, "Admin address file {File} could not be written: {Error}; kcp runs on, kcp status finds the endpoint once it is written (retried)")]
    public static partial void AdminAddressFileFailed(ILogger logger, string file, string error);

    [LoggerMessage(2124, LogLevel.Error, "Route {Route}: local offset record {Partition} cannot be created ({Error}); the partition is delivered without it until it is assigned again, its position kept by the commits in the cluster")]
    public static partial void LocalRecordUnavailable(ILogger logger, string route, string partition, string error);
}
