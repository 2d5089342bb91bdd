using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>Reading what kcp logged into a <see cref="FakeLogCollector"/> (Microsoft.Extensions.Diagnostics.Testing).</summary>
public static class FakeLogs
{
    /// <summary>
    /// A logger factory writing into <paramref name="collector"/> from Information up, as kcp logs by default, so that
    /// a test counting lines sees what an operator would; debug lines are not even formatted.
    /// </summary>
    public static ILoggerFactory AtInformation(FakeLogCollector collector) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new FakeLoggerProvider(collector)));

    /// <summary>Each record so far as "Level: message".</summary>
    public static IReadOnlyList<string> Lines(this FakeLogCollector collector) =>
        [.. collector.GetSnapshot().Select(r => $"{r.Level}: {r.Message}")];

    /// <summary>Each record's message so far.</summary>
    public static IReadOnlyList<string> Messages(this FakeLogCollector collector) =>
        [.. collector.GetSnapshot().Select(r => r.Message)];

    /// <summary>Each record so far as its level and message.</summary>
    public static IReadOnlyList<(LogLevel Level, string Message)> Entries(this FakeLogCollector collector) =>
        [.. collector.GetSnapshot().Select(r => (r.Level, r.Message))];

    /// <summary>Waits until a record matching <paramref name="predicate"/> was logged.</summary>
    /// <exception cref="TimeoutException">None within <paramref name="timeout"/>; the message lists the records.</exception>
    public static Task WaitForAsync(this FakeLogCollector collector, Func<FakeLogRecord, bool> predicate, string what, TimeSpan timeout) =>
        Eventually.ValueAsync(
            () => collector.GetSnapshot(),
            records => records.Any(predicate),
            what,
            timeout,
            records => "records:\n" + string.Join('\n', records.Select(r => $"{r.Level}: {r.Message}")));
}
