using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Several instances of one route's group (docs/FLEET.md): event ids 2240-2259.</summary>
internal static partial class Log
{
    [LoggerMessage(2240, LogLevel.Error, "Route {Route}: another instance of group {Group} holds partitions of {Topic}: this instance was given {Owned} of {Partitions} within {Seconds:0} s of joining. Guarantee mode 3 keeps each partition's position on the one machine that delivers it and runs in one instance only; the route is stopped here (start it again once the other instance is gone, or run the fleet in mode 2; docs/FLEET.md)")]
    public static partial void SecondInstanceRefused(ILogger logger, string route, string group, string topic, int owned, int partitions, double seconds);

    [LoggerMessage(2241, LogLevel.Error, "Route {Route}: another instance joined group {Group} and holds partitions of {Topic}: this instance keeps {Owned} of {Partitions}. Guarantee mode 3 runs in one instance only: a kcp that joins a mode 3 group stops its route within its first {Seconds:0} s; a consumer that does not (another client, an older kcp) breaks mode 3's promise for the partitions it takes (docs/FLEET.md)")]
    public static partial void SecondInstanceJoined(ILogger logger, string route, string group, string topic, int owned, int partitions, double seconds);

    [LoggerMessage(2242, LogLevel.Information, "Route {Route}: this instance holds every partition of {Topic} again ({Partitions})")]
    public static partial void SoleInstanceAgain(ILogger logger, string route, string topic, int partitions);
}
