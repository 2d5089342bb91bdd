using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// What still fails after validation, because the environment changed in between (a directory removed, a file
/// system remounted read-only): one log line naming what could not be started, and no member starts.
/// </summary>
public sealed class StartFailureTests
{
    [Fact]
    public async Task RunAsync_StateDirCannotBeCreatedAtStart_LogsOneLineNamingStateDirAndThrows_Issue7()
    {
        using var writer = new ProxyConfigWriter("127.0.0.1:1");
        writer.AddRoute("r", "orders", "billing", 8080);
        // Valid when loaded; sysfs then refuses the directory, as a file system remounted read-only would.
        var config = ConfigLoader.Load(writer.ConfigFile) with { StateDir = "/sys/kcp-start-test" };
        var logs = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));

        var run = new ProxyRunner(config, loggers, new ProxyMetrics(TimeProvider.System), new ManualSkipSignal(), TimeProvider.System).RunAsync(CancellationToken.None);
        var error = await Assert.ThrowsAsync<StartFailedException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));

        var line = Assert.Single(logs.Lines());
        Assert.StartsWith("Critical: Cannot start: state_dir /sys/kcp-start-test: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("cannot start state_dir /sys/kcp-start-test: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NoRoutes_LogsAndThrowsInsteadOfIdling_Issue7()
    {
        using var writer = new ProxyConfigWriter("127.0.0.1:1");
        writer.AddRoute("r", "orders", "billing", 8080);
        var config = ConfigLoader.Load(writer.ConfigFile) with { Routes = [] };
        var logs = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));

        var run = new ProxyRunner(config, loggers, new ProxyMetrics(TimeProvider.System), new ManualSkipSignal(), TimeProvider.System).RunAsync(CancellationToken.None);
        await Assert.ThrowsAsync<StartFailedException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal([$"Critical: Cannot start: routes_dir {writer.RoutesDir}: no routes to run"], logs.Lines());
    }
}
