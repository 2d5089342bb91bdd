using System.Runtime.InteropServices;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Hosts the <see cref="ProxyRunner"/> for <c>kcp run</c>. SIGTERM, SIGINT and SIGQUIT stop it through the host's
/// console lifetime; SIGHUP reloads the configuration (as <c>kcp reload</c> does); SIGUSR1 skips the messages being
/// retried.
/// </summary>
internal sealed class ProxyService : BackgroundService
{
    /// <summary>The exit code after a failed start: 1, the CLI's <c>EnvironmentError</c> (state dir, ports, brokers…).</summary>
    public const int StartFailedExitCode = 1;

    // SIGUSR1 has no PosixSignal member; raw Linux signal numbers are accepted by casting.
    private const PosixSignal SigUsr1 = (PosixSignal)10;

    private readonly ProxyRunner _runner;
    private readonly ManualSkipSignal _manualSkip;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly List<PosixSignalRegistration> _signals = [];

    public ProxyService(KcpConfig config, ProxyMetrics metrics, ManualSkipSignal manualSkip, IHostApplicationLifetime lifetime, ILoggerFactory loggers, TimeProvider time)
    {
        _manualSkip = manualSkip;
        _lifetime = lifetime;
        _logger = loggers.CreateLogger("kcp");
        _runner = new ProxyRunner(config, loggers, metrics, manualSkip, time);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            if (!_runner.Reload("SIGHUP"))
            {
                Log.ReloadSignalIgnored(_logger);
            }
        }));
        if (OperatingSystem.IsLinux())
        {
            _signals.Add(PosixSignalRegistration.Create(SigUsr1, context =>
            {
                context.Cancel = true;
                // Logs the request, or counts it as ignored within a second of the last one.
                _manualSkip.Trigger();
            }));
        }

        // On the lifetime's stopping event, which fires before the host cancels stoppingToken: a callback on that token
        // runs after the runner's own (callbacks run last registered first), and the runner may end and dispose it first.
        var running = 1;
        using var stopping = _lifetime.ApplicationStopping.Register(() =>
        {
            if (Volatile.Read(ref running) == 1)
            {
                Log.Stopping(_logger);
            }
        });
        try
        {
            await _runner.RunAsync(stoppingToken).ConfigureAwait(false);
            Volatile.Write(ref running, 0);
            Log.Stopped(_logger);

            // Also when the runner ended without a stop request: a process that consumes nothing must not stay up.
            _lifetime.StopApplication();
        }
        catch (Exception)
        {
            // Already logged by the runner: the start step that failed (route failures never end the runner).
            Volatile.Write(ref running, 0);
            Environment.ExitCode = StartFailedExitCode;
            _lifetime.StopApplication();
        }
    }

    public override void Dispose()
    {
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        base.Dispose();
    }
}
