using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>How the .NET runtime runs kcp's work (<c>socket_completions</c>): event ids 2460-2469.</summary>
internal static partial class Log
{
    [LoggerMessage(2460, LogLevel.Information, "Socket completions: {Mode} (from {Source})")]
    public static partial void SocketCompletions(ILogger logger, string mode, string source);

    [LoggerMessage(2461, LogLevel.Warning, "Socket completions: {Mode}, not as socket_completions says (from {Source})")]
    public static partial void SocketCompletionsOverridden(ILogger logger, string mode, string source);
}
