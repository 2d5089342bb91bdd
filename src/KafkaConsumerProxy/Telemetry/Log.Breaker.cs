using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>A route's circuit breaker: event ids 1650-1659.</summary>
internal static partial class Log
{
    [LoggerMessage(1650, LogLevel.Warning, "Route {Route}: circuit breaker open after {Failures} consecutive failed attempts (last: {Reason}); the route sends one probe every {ProbeMs} ms until the endpoint answers, and attempts while open do not count toward retry_nums")]
    public static partial void BreakerOpened(ILogger logger, string route, int failures, string reason, int probeMs);

    [LoggerMessage(1651, LogLevel.Information, "Route {Route}: circuit breaker closed after {OpenSeconds:F1} s open and {Probes} probe(s) ({Answer}); requests in flight ramp up again from 2")]
    public static partial void BreakerClosed(ILogger logger, string route, double openSeconds, long probes, string answer);
}
