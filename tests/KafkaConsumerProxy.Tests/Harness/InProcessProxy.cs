using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// The real proxy (config loader + <see cref="ProxyRunner"/>) running inside the test process, with its log
/// lines captured for assertions. Stop it with <see cref="StopAsync"/> as SIGTERM would.
/// </summary>
public sealed class InProcessProxy : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ILoggerFactory _loggers;
    private readonly FakeLogCollector _logs = new();
    private readonly Task _running;

    private InProcessProxy(KcpConfig config)
    {
        Config = config;
        _loggers = FakeLogs.AtInformation(_logs);
        _running = Task.Run(() => new ProxyRunner(config, _loggers, Metrics, ManualSkip, TimeProvider.System).RunAsync(_stop.Token));
    }

    internal KcpConfig Config { get; }

    internal ProxyMetrics Metrics { get; } = new(TimeProvider.System);

    internal ManualSkipSignal ManualSkip { get; } = new();

    /// <summary>Log lines so far, formatted as "level: message".</summary>
    public IReadOnlyList<string> Logs => _logs.Lines();

    public static InProcessProxy Start(string configFile) => new(ConfigLoader.Load(configFile));

    /// <summary>Graceful stop: in-flight deliveries finish, offsets are committed, the group is left.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _running.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits for a log line containing <paramref name="text"/>.</summary>
    public Task WaitForLogAsync(string text, TimeSpan timeout) =>
        WaitForLogsAsync(logs => logs.Any(l => l.Contains(text, StringComparison.Ordinal)), $"a log line containing '{text}'", timeout);

    /// <summary>Waits until the log lines so far satisfy <paramref name="condition"/>; fails at once if the proxy stopped with an error.</summary>
    public Task WaitForLogsAsync(Func<IReadOnlyList<string>, bool> condition, string what, TimeSpan timeout) =>
        Eventually.ValueAsync(
            async () =>
            {
                if (_running.IsCompleted)
                {
                    await _running;
                }

                return Logs;
            },
            condition,
            what,
            timeout,
            logs => "lines:\n" + string.Join('\n', logs.TakeLast(30)));

    public async ValueTask DisposeAsync()
    {
        if (!_running.IsCompleted)
        {
            await StopAsync();
        }

        if (Environment.GetEnvironmentVariable("KCP_TEST_LOGS") is { Length: > 0 } logFile)
        {
            await File.AppendAllLinesAsync(logFile, Logs);
        }

        _loggers.Dispose();
        Metrics.Dispose();
        _stop.Dispose();
    }
}
