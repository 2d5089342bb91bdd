using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// kcp's console log line: <c>2026-01-31T12:00:00.000Z info: Category[1100] message exception</c>, the simple console
/// format (one line, UTC timestamp, no colours), except that every value is made safe by <see cref="LogText.Escape(string?, int)"/>:
/// a line break in a message or exception becomes a space and every other control character an escape (a NUL is
/// <c>\x00</c>), whatever a logged value holds (a group id, a file name, an endpoint's text, an exception message).
/// </summary>
internal sealed class LogLineFormatter(TimeProvider time) : ConsoleFormatter(FormatterName)
{
    /// <summary>The formatter's name in <see cref="ConsoleLoggerOptions.FormatterName"/>.</summary>
    public const string FormatterName = "kcp";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && message is null)
        {
            return;
        }

        var line = new StringBuilder((message?.Length ?? 0) + 64)
            .Append(time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z' ", CultureInfo.InvariantCulture))
            .Append(Level(logEntry.LogLevel)).Append(": ").Append(OneLine(logEntry.Category))
            .Append('[').Append(logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture)).Append(']');
        if (!string.IsNullOrEmpty(message))
        {
            line.Append(' ').Append(OneLine(message));
        }

        if (logEntry.Exception is not null)
        {
            line.Append(' ').Append(OneLine(logEntry.Exception.ToString()));
        }

        textWriter.Write(line.Append(Environment.NewLine).ToString());
    }

    private static string OneLine(string text) =>
        LogText.Escape(text.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' '), int.MaxValue);

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString(),
    };
}
