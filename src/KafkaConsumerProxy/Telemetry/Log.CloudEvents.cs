using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary><c>format: cloudevents</c>: event ids 1900-1919.</summary>
internal static partial class Log
{
    [LoggerMessage(1900, LogLevel.Warning, "Route {Route}: {Topic}/{Partition}@{Offset} claims to be a CloudEvent but is not a valid one ({Problem}); sent as a new event with attribute kcpinvalid; further ones of this partition are counted and summarised every {IntervalSeconds:F0} s")]
    public static partial void CloudEventInvalid(ILogger logger, string route, string topic, int partition, long offset, string problem, double intervalSeconds);

    [LoggerMessage(1901, LogLevel.Warning, "Route {Route}: {Count} more record(s) of {Topic}/{Partition} claimed to be CloudEvents but were not valid ones in the last {Seconds:F0} s, sent as new events with attribute kcpinvalid; latest {Offset}: {Problem}")]
    public static partial void CloudEventInvalidAgain(ILogger logger, string route, string topic, int partition, long count, double seconds, long offset, string problem);
}
