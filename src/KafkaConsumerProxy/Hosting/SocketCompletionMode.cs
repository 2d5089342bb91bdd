using System.Net.Sockets;
using System.Reflection;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Applies <c>socket_completions</c> (<see cref="KcpConfig.SocketCompletions"/>) to the process. The runtime decides
/// once, at the process's first asynchronous socket operation, whether a completed operation's continuation runs on
/// its socket thread or is handed to a thread-pool worker, and reads that only from the environment variable
/// <see cref="Variable"/>: <c>kcp run</c> sets it before it opens any socket, unless the environment already has it.
/// </summary>
internal static class SocketCompletionMode
{
    /// <summary>The runtime's switch: "1" inline, anything else the thread pool.</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Sets <see cref="Variable"/> as <paramref name="config"/>'s <c>socket_completions</c> says unless the environment
    /// set it; returns the environment's value when it did (it wins), else null. Before the process's first socket operation.
    /// </summary>
    public static string? Apply(KcpConfig config)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { } set)
        {
            return set;
        }

        Environment.SetEnvironmentVariable(Variable, config.SocketCompletionsInline ? "1" : "0");
        return null;
    }

    /// <summary>
    /// What the runtime's socket engine does: true inline, false the thread pool; null when this runtime does not show
    /// it (its internal field, read for this report only, is not there).
    /// </summary>
    public static bool? InEffect()
    {
        var engine = typeof(Socket).Assembly.GetType("System.Net.Sockets.SocketAsyncEngine");
        var field = engine?.GetField("InlineSocketCompletionsEnabled", BindingFlags.NonPublic | BindingFlags.Static);
        return field?.GetValue(null) as bool?;
    }

    /// <summary>Logs what is in effect against what was configured (event 2460, or 2461 when they differ).</summary>
    public static void Report(ILogger logger, KcpConfig config, string? fromEnvironment)
    {
        var inEffect = InEffect();
        var mode = inEffect switch
        {
            true => KcpConfig.InlineSocketCompletions,
            false => KcpConfig.ThreadPoolSocketCompletions,
            null => "unknown (this runtime does not show it)",
        };
        var configured = $"socket_completions: {config.SocketCompletions}";
        var source = fromEnvironment is null ? configured : $"the environment's {Variable}={fromEnvironment}, over {configured}";
        if (inEffect is { } inline && inline != config.SocketCompletionsInline)
        {
            Log.SocketCompletionsOverridden(logger, mode, source);
        }
        else
        {
            Log.SocketCompletions(logger, mode, source);
        }
    }
}
