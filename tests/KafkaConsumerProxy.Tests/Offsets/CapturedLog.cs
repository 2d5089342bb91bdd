using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>A logger that keeps every line with its level, for unit tests of what is reported.</summary>
internal sealed class CapturedLog : ILogger
{
    public List<(LogLevel Level, string Text)> Entries { get; } = [];

    public IEnumerable<string> Lines => Entries.Select(e => e.Text);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, formatter(state, exception)));
}
