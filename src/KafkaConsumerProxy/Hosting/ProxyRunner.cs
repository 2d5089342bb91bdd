using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Hosting;

/// <summary>
/// Runs every route of a validated configuration, each under its own <see cref="RouteSupervisor"/>
/// (<c>concurrency</c> group members, one HTTP connection pool per route). A route that fails is restarted with
/// backoff and never stops the others or the process; the process ends only when <c>stop</c> is cancelled. Operators
/// reach the routes through the control socket (<see cref="ControlServer"/>); changes to the configuration files are
/// reloaded (<see cref="ConfigWatcher"/>).
/// </summary>
internal sealed class ProxyRunner
{
    private readonly KcpConfig _config;
    private readonly ILoggerFactory _loggers;
    private readonly ProxyMetrics _metrics;
    private readonly ManualSkipSignal _manualSkip;
    private readonly TimeProvider _time;

    public ProxyRunner(KcpConfig config, ILoggerFactory loggers, ProxyMetrics metrics, ManualSkipSignal manualSkip, TimeProvider time)
    {
        _config = config;
        _loggers = loggers;
        _metrics = metrics;
        _manualSkip = manualSkip;
        _time = time;
    }

    private RouteRegistry? _registry;

    /// <summary>The admin endpoint; null until <see cref="RunAsync"/> started it, or with <c>admin.listen: off</c>.</summary>
    internal AdminServer? Admin { get; private set; }

    /// <summary>
    /// Loads the configuration again, as <c>kcp reload</c> and a change of the files do (SIGHUP); false when the routes
    /// have not been set up yet (or are stopping), where there is nothing to reload.
    /// </summary>
    internal bool Reload(string trigger)
    {
        if (Volatile.Read(ref _registry) is not { } registry)
        {
            return false;
        }

        // The registry logs the outcome (applied, unchanged, or rejected with every error).
        _ = registry.ReloadAsync(trigger);
        return true;
    }

    /// <summary>Runs until <paramref name="stop"/> is cancelled, then stops every route cleanly.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var logger = _loggers.CreateLogger("kcp");
        if (_config.Routes.Count == 0)
        {
            // The loader refuses this; a runner without routes would otherwise idle forever.
            var what = $"routes_dir {_config.RoutesDir}";
            Log.StartFailed(logger, what, "no routes to run");
            throw new StartFailedException(what, new InvalidOperationException("no routes to run"));
        }

        // Declared first, so disposed last: the flush at stop comes after every route finished its deliveries.
        using var otlp = Starting(logger, $"OTLP export to {SecretRedactor.Hide(_config.Telemetry.OtlpEndpoint?.AbsoluteUri)}", () => OtlpExport.Start(_config.Telemetry, logger, _time, _loggers));
        using var skipLog = Starting(logger, $"state_dir {_config.StateDir}", () => new SkipLog(_config.StateDir, logger, _time));
        var store = Starting(logger, $"state_dir {_config.StateDir}", () => new LocalOffsetStore(_config.StateDir, logger, _time));
        var failing = new FailingMessages();
        // kcp.partition.head_of_line_blocked.
        _metrics.BlockedSource = () => failing.All().Select(f => (f.Route, f.Topic, f.Partition, f.FailingSince));
        var runtime = new RouteRuntime(_loggers, _metrics, _manualSkip, skipLog, store, _time, failing, new SeekRegistry(_time));
        // Declared before the registry, so disposed after it: the shared budgets outlive every route.
        using var routes = new RouteFactory(runtime, logger);
        var registry = new RouteRegistry(_config, runtime, routes.Create, logger);
        await using (registry.ConfigureAwait(false))
        {
            // The control topics are read, and the operator's intents found there applied, before any route starts;
            // declared after the registry, so disposed (the last heartbeat says "left") before the routes stop.
            var fleet = _config.Fleet.Enabled ? new FleetControl(_config, registry, logger, _time) : null;
            await using var fleetScope = ((IAsyncDisposable?)fleet ?? AdminServer.Off).ConfigureAwait(false);
            // An endpoint's Kcp-Action: pause goes where the operator's pause goes: through the fleet when there is one.
            routes.EndpointPauses = new EndpointPauses(registry, fleet is null ? registry.OperateAsync : fleet.OperateAsync,
                new AuditLog(_config.StateDir, _loggers.CreateLogger("kcp.admin"), _time), logger, _time);
            if (fleet is not null)
                await StartingAsync(logger, $"fleet ({_config.Fleet})", async () => await fleet.StartAsync().ConfigureAwait(false)).ConfigureAwait(false);
            var control = await StartingAsync(logger, $"control socket {ControlServer.SocketPath(_config.StateDir)}",
                () => ControlServer.StartAsync(_config.StateDir, registry, logger, fleet)).ConfigureAwait(false);
            await using (control.ConfigureAwait(false))
            {
                var admin = await StartingAsync(logger, $"admin endpoint {_config.Admin.Listen}", () => AdminServer.StartAsync(_config, registry, logger, fleet)).ConfigureAwait(false);
                await using var adminScope = ((IAsyncDisposable?)admin ?? AdminServer.Off).ConfigureAwait(false);
                Admin = admin;
                Volatile.Write(ref _registry, registry);
                registry.StartAll((route, create) => Starting(logger, $"route {route.Name} ({route.SourceFile})", create));
                // Every route's lag from the broker, for the metrics and the API: paused and unowned partitions too.
                await using var lag = new GroupLagReader(() => registry.Config, _metrics.Observations.GroupLags, logger, _time,
                    joined: _metrics.Observations.HasJoined).Start();
                // The dashboard's sparklines: every route's rates and lag every 10 s, kept for 15 minutes in memory.
                using var history = _time.CreateTimer(_ => _metrics.Observations.SampleHistory(registry.List().Select(r => r.Route)), null, TimeSpan.Zero, RouteHistory.Step);
                using var watcher = new ConfigWatcher(registry, logger, _time);
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The stop signal: every route finishes, commits and leaves its group.
                }

                Volatile.Write(ref _registry, null);
                // Replays first: they run beside the routes and end at their next message.
                await registry.Replays.DisposeAsync().ConfigureAwait(false);
                await registry.StopAllAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Runs one step of the start; a failure is logged in one line naming what could not be started (and where) and
    /// rethrown as <see cref="StartFailedException"/>, which makes the process exit with 1.
    /// </summary>
    private static T Starting<T>(ILogger logger, string what, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (Exception ex)
        {
            Log.StartFailed(logger, what, ex.Message.ReplaceLineEndings(" "));
            throw new StartFailedException(what, ex);
        }
    }

    private static async Task<T> StartingAsync<T>(ILogger logger, string what, Func<Task<T>> step)
    {
        try
        {
            return await step().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StartFailed(logger, what, ex.Message.ReplaceLineEndings(" "));
            throw new StartFailedException(what, ex);
        }
    }
}

/// <summary>Something the proxy needs could not be set up before the routes start; already logged.</summary>
internal sealed class StartFailedException(string what, Exception inner) : Exception($"cannot start {what}: {inner.Message}", inner);
