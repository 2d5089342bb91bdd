using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Answers judged by a route's <c>response_check</c>: event ids 2420-2429.</summary>
internal static partial class Log
{
    [LoggerMessage(2420, LogLevel.Warning, "Route {Route}: {Host} answered HTTP {Status} with {Body}, which response_check: errno (the default) does not accept: a 2xx must carry a JSON object such as {{\"errno\":0}}. The message is retried as before; if any 2xx of this endpoint means success, set response_check: status in the route file. Said once per route")]
    public static partial void ErrnoAnswerNotJson(ILogger logger, string route, string host, int status, string body);
}
