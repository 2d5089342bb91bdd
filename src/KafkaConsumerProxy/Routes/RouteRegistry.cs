using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>What every route of the process shares: logs, metrics, the skip log, the local offset store, the clock, and
/// the operator's controls (the messages being retried, seeks).</summary>
internal sealed record RouteRuntime(ILoggerFactory Loggers, ProxyMetrics Metrics, ManualSkipSignal ManualSkip, SkipLog SkipLog, LocalOffsetStore Store, TimeProvider Time,
    FailingMessages Failing, SeekRegistry Seeks);

/// <summary>
/// The one place where routes are operated on: the supervisors of the running configuration, the operator's
/// pause/stop/start/resume/restart by name, by topic (and group) or all, and reloads of the configuration. The control
/// socket (<c>kcp routes</c>, <c>kcp reload</c>) calls it, and so will the admin endpoint. Operations run one at a time,
/// and so do reloads; a reload never waits for an operation, nor for a route's requests in flight: routes it removes or
/// replaces stop in the background (see <see cref="ReloadStopPatience"/>).
/// </summary>
internal sealed class RouteRegistry : IAsyncDisposable
{
    private readonly RouteRuntime _runtime;
    private readonly Func<RouteDefinition, KcpConfig, RouteSupervisor> _create;
    private readonly OperatorState _operator;
    private readonly ILogger _logger;
    /// <summary>
    /// How long a route that a reload removes or replaces may take to stop before its requests in flight are
    /// cancelled (their messages stay uncommitted and are delivered again). The default value is 10 seconds.
    /// </summary>
    public static readonly TimeSpan ReloadStopPatience = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly SemaphoreSlim _reloads = new(1, 1);

    // Under _gate: routes of earlier configurations still stopping, and new routes waiting for them to be gone.
    private readonly List<(RouteSupervisor Old, Task Done, string Work)> _retiring = [];
    private readonly List<(RouteSupervisor Next, string Work)> _waiting = [];
    private readonly Lock _gate = new();
    private Dictionary<string, RouteSupervisor> _routes = new(StringComparer.Ordinal);
    private KcpConfig _config;
    private ReloadResult? _lastReload;
    private ReloadResult? _lastRejected;
    private bool _closed;

    /// <param name="create">Builds the supervisor of a route of a configuration with all its parts (the composition
    /// root's wiring); throws when a part cannot be built.</param>
    public RouteRegistry(KcpConfig config, RouteRuntime runtime, Func<RouteDefinition, KcpConfig, RouteSupervisor> create, ILogger logger)
    {
        _config = config;
        _runtime = runtime;
        _create = create;
        _logger = logger;
        _operator = new OperatorState(config.StateDir, logger);
        // kcp.route.state, for every exporter of the meter (the admin endpoint's /metrics, OTLP).
        runtime.Metrics.RouteStateSource = () => [.. List().Select(s => (s.Route, s.State.ToString().ToLowerInvariant()))];
        // kcp.messages.blocked.
        runtime.Metrics.FailingSource = () => runtime.Failing.All().Select(f => f.Route);
    }

    /// <summary>The process's metrics and what they observe of the routes (partitions, failing messages).</summary>
    public ProxyMetrics Metrics => _runtime.Metrics;

    /// <summary>The messages being retried now, with the operator's skip and retry handles.</summary>
    public FailingMessages Failing => _runtime.Failing;

    /// <summary>The operator's seeks of the members of every route.</summary>
    public SeekRegistry Seeks => _runtime.Seeks;

    public ReplayRuns Replays => field ?? Interlocked.CompareExchange(ref field, new ReplayRuns(() => Config, Loggers, Time), null) ?? field;

    /// <summary>The process's loggers.</summary>
    public ILoggerFactory Loggers => _runtime.Loggers;

    /// <summary>The clock and timers of this kcp.</summary>
    public TimeProvider Time => _runtime.Time;

    /// <summary>The configuration in force (the last accepted one).</summary>
    public KcpConfig Config
    {
        get
        {
            lock (_gate)
            {
                return _config;
            }
        }
    }

    /// <summary>The last reload, accepted or not, with what reloads still do now; null before the first.</summary>
    public ReloadResult? LastReload
    {
        get
        {
            lock (_gate)
            {
                return _lastReload is null ? null : _lastReload with { InProgress = InProgress() };
            }
        }
    }

    /// <summary>The last rejected reload (time and errors); null when none was rejected.</summary>
    public ReloadResult? LastRejectedReload
    {
        get
        {
            lock (_gate)
            {
                return _lastRejected;
            }
        }
    }

    /// <summary>
    /// Creates and starts the supervisor of every route. A route whose parts cannot be built throws (the caller reports
    /// it as a start failure); routes that fail later are restarted by their supervisor.
    /// </summary>
    public void StartAll(Func<RouteDefinition, Func<RouteSupervisor>, RouteSupervisor>? step = null)
    {
        var routes = new Dictionary<string, RouteSupervisor>(StringComparer.Ordinal);
        foreach (var route in _config.Routes)
        {
            var supervisor = step is null ? _create(route, _config) : step(route, () => _create(route, _config));
            routes[route.Name] = supervisor;
        }

        lock (_gate)
        {
            _routes = routes;
        }

        foreach (var supervisor in routes.Values)
        {
            Begin(supervisor, "kcp started");
        }
    }

    /// <summary>Every route's status, by name.</summary>
    public IReadOnlyList<RouteStatus> List()
    {
        lock (_gate)
        {
            return [.. _routes.Values.Select(s => s.Status()).OrderBy(s => s.Route, StringComparer.Ordinal)];
        }
    }

    /// <summary>One route's status, or null when there is no such route.</summary>
    public RouteStatus? Find(string route)
    {
        lock (_gate)
        {
            return _routes.TryGetValue(route, out var s) ? s.Status() : null;
        }
    }

    /// <summary>Applies <paramref name="action"/> to the selected routes; <paramref name="who"/> is logged.</summary>
    public async Task<RouteOperationResult> OperateAsync(RouteAction action, RouteSelector selector, string who)
    {
        await _serial.WaitAsync().ConfigureAwait(false);
        try
        {
            var (selected, error) = Closed() ? ([], "kcp is stopping") : Select(selector);
            if (error is not null)
            {
                return new RouteOperationResult(action, [], error);
            }

            var verb = action.ToString().ToLowerInvariant();
            Log.RouteOperationRequested(_logger, verb, string.Join(", ", selected.Select(s => s.Name)), who);
            var cause = $"operator {verb} ({selector}, by {who})";
            await Task.WhenAll(selected.Select(s => ApplyAsync(s, action, cause))).ConfigureAwait(false);
            return new RouteOperationResult(action, [.. selected.Select(s => s.Status())], null);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// Applies an operator's pause or stop of <paramref name="route"/> of <paramref name="group"/> read from the fleet's
    /// control topic, kept in routes.json like a local one (before <see cref="StartAll"/>, which then reads it, only there).
    /// </summary>
    public async Task ApplyIntentAsync(string route, string group, bool? paused, bool? stopped, string cause)
    {
        await _serial.WaitAsync().ConfigureAwait(false);
        try
        {
            (bool Ours, RouteSupervisor? Supervisor) found;
            lock (_gate)
                found = (!_closed && _config.Routes.Any(r => r.Name == route && r.Group == group), _routes.GetValueOrDefault(route));
            var (wasPaused, wasStopped) = _operator.Get(route);
            if (!found.Ours || ((paused ?? wasPaused) == wasPaused && (stopped ?? wasStopped) == wasStopped))
                return;
            var action = paused is { } p ? (p ? RouteAction.Pause : RouteAction.Resume) : stopped == true ? RouteAction.Stop : RouteAction.Start;
            Log.RouteOperationRequested(_logger, action.ToString().ToLowerInvariant(), route, cause);
            if (found.Supervisor is not { } supervisor)
                _operator.Set(route, paused ?? wasPaused, stopped ?? wasStopped);
            else
                await ApplyAsync(supervisor, action, cause).ConfigureAwait(false);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// Loads and validates the whole configuration again; with any error nothing changes and the errors are kept.
    /// Otherwise added routes start, removed ones stop cleanly, changed ones (or ones whose cluster changed) stop and
    /// start with the new definition, and unchanged ones are not touched. Answers once all of it has been set going:
    /// routes that stop do so in the background, each bounded by <see cref="ReloadStopPatience"/>, and a route waits
    /// only for the old routes of its own name or group (so it starts at what they committed), never for others.
    /// </summary>
    public async Task<ReloadResult> ReloadAsync(string trigger)
    {
        await _reloads.WaitAsync().ConfigureAwait(false);
        try
        {
            var old = Config;
            var now = _runtime.Time.GetUtcNow();
            if (Closed())
            {
                return new ReloadResult(now, trigger, false, ["kcp is stopping"], [], [], [], [], []);
            }

            var (loaded, errors) = ConfigLoader.TryLoad(old.ConfigFile);
            if (loaded is null)
            {
                var lines = errors.Select(e => e.ToString()).ToList();
                Log.ReloadRejected(_logger, trigger, lines.Count);
                foreach (var line in lines)
                {
                    Log.ReloadError(_logger, line);
                }

                return Remember(new ReloadResult(now, trigger, false, lines, [], [], [], [], []));
            }

            var needRestart = new List<string>();
            if (!string.Equals(loaded.StateDir, old.StateDir, StringComparison.Ordinal))
            {
                Log.ReloadNeedsRestart(_logger, "state_dir", old.StateDir, loaded.StateDir);
                needRestart.Add($"state_dir: {old.StateDir} -> {loaded.StateDir}");
                loaded = loaded with { StateDir = old.StateDir };
            }

            // Settings only a restart of kcp applies: the running ones stay, the log and the answer say so.
            void NeedsRestart(bool same, string key, string before, string after, Func<KcpConfig, KcpConfig> keep)
            {
                if (same)
                    return;
                Log.ReloadNeedsRestart(_logger, key, before, after);
                needRestart.Add($"{key}: {before} -> {after}");
                loaded = keep(loaded);
            }

            NeedsRestart(loaded.Admin.SameAs(old.Admin), "admin", old.Admin.ToString(), loaded.Admin.ToString(), c => c with { Admin = old.Admin });
            NeedsRestart(loaded.Telemetry.SameAs(old.Telemetry), "telemetry", old.Telemetry.ToString(), loaded.Telemetry.DescribeChangeFrom(old.Telemetry),
                c => c with { Telemetry = old.Telemetry });
            NeedsRestart(loaded.Logging == old.Logging, "logging", old.Logging.ToString(), loaded.Logging.ToString(), c => c with { Logging = old.Logging });
            NeedsRestart(loaded.Fleet == old.Fleet, "fleet", old.Fleet.ToString(), loaded.Fleet.ToString(), c => c with { Fleet = old.Fleet });
            NeedsRestart(loaded.SocketCompletions == old.SocketCompletions, MainFileKeys.SocketCompletions.Name, old.SocketCompletions, loaded.SocketCompletions,
                c => c with { SocketCompletions = old.SocketCompletions });

            Dictionary<string, RouteSupervisor> current;
            lock (_gate)
            {
                current = new Dictionary<string, RouteSupervisor>(_routes, StringComparer.Ordinal);
            }

            var next = loaded.Routes.ToDictionary(r => r.Name, StringComparer.Ordinal);
            var removed = current.Keys.Where(n => !next.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
            var added = next.Keys.Where(n => !current.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
            var changed = next.Keys.Where(n => current.TryGetValue(n, out var s) && !Unchanged(s, next[n], old, loaded)).Order(StringComparer.Ordinal).ToList();
            var unchanged = next.Keys.Where(n => current.ContainsKey(n) && !changed.Contains(n)).Order(StringComparer.Ordinal).ToList();

            // Old members stop (finish, commit, leave) in the background; what replaces them starts once they are gone.
            var patience = $"requests in flight get {ReloadStopPatience.TotalSeconds:0} s, then are cancelled and stay uncommitted";
            foreach (var name in removed)
            {
                Retire(current[name], $"removed by reload ({trigger})", $"route {name}: removed, stopping ({patience})");
                current.Remove(name);
                _operator.Forget(name);
                Metrics.Observations.Forget(name);
            }

            foreach (var name in changed)
            {
                Retire(current[name], $"changed by reload ({trigger}); the new definition starts at what this one committed",
                    $"route {name}: the previous definition is stopping ({patience})");
            }

            var failedToBuild = new List<string>();
            foreach (var name in changed.Concat(added))
            {
                try
                {
                    current[name] = _create(next[name], loaded);
                }
#pragma warning disable CA1031 // One route that cannot be built must not keep the others from the new configuration.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    current.Remove(name);
                    failedToBuild.Add($"route {name}: {ex.Message.ReplaceLineEndings(" ")}");
                    Log.ReloadError(_logger, $"route {name} could not be started: {ex.Message.ReplaceLineEndings(" ")}");
                }
            }

            lock (_gate)
            {
                _routes = current;
                _config = loaded;
            }

            foreach (var name in added)
            {
                if (current.TryGetValue(name, out var s))
                {
                    BeginAfterPredecessors(s, $"added by reload ({trigger})");
                }
            }

            foreach (var name in changed)
            {
                if (current.TryGetValue(name, out var s))
                {
                    BeginAfterPredecessors(s, $"changed by reload ({trigger})");
                }
            }

            if (added.Count + removed.Count + changed.Count == 0)
            {
                Log.ReloadUnchanged(_logger, trigger);
            }
            else
            {
                Log.ReloadApplied(_logger, trigger, added.Count, removed.Count, changed.Count, unchanged.Count);
            }

            IReadOnlyList<string> inProgress;
            lock (_gate)
            {
                inProgress = InProgress();
            }

            foreach (var work in inProgress)
            {
                Log.ReloadInProgress(_logger, trigger, work);
            }

            return Remember(new ReloadResult(now, trigger, true, failedToBuild, added, removed, changed, unchanged, needRestart) { InProgress = inProgress });
        }
        finally
        {
            _reloads.Release();
        }
    }

    /// <summary>
    /// Stops every route cleanly (in parallel: each finishes, commits and leaves its group), and waits for the routes
    /// that reloads are still stopping.
    /// </summary>
    public async Task StopAllAsync()
    {
        // After the reload and the operation in progress; none runs after this.
        await _reloads.WaitAsync().ConfigureAwait(false);
        try
        {
            await _serial.WaitAsync().ConfigureAwait(false);
            try
            {
                List<RouteSupervisor> all;
                List<Task> retiring;
                lock (_gate)
                {
                    _closed = true;
                    all = [.. _routes.Values];
                    retiring = [.. _retiring.Select(r => r.Done)];
                }

                await Task.WhenAll(all.Select(s => s.RetireAsync("kcp stopping", Config.ShutdownTimeout)).Concat(retiring)).ConfigureAwait(false);
            }
            finally
            {
                _serial.Release();
            }
        }
        finally
        {
            _reloads.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync().ConfigureAwait(false);
        _serial.Dispose();
        _reloads.Dispose();
    }

    private bool Closed()
    {
        lock (_gate)
        {
            return _closed;
        }
    }

    /// <summary>What reloads still do now, one line each. Under <see cref="_gate"/>.</summary>
    private List<string> InProgress() => [.. _retiring.Select(r => r.Work), .. _waiting.Select(w => w.Work)];

    /// <summary>
    /// Retires <paramref name="old"/> in the background, bounded by <see cref="ReloadStopPatience"/>; routes of the
    /// same name or group wait for it (<see cref="BeginAfterPredecessors"/>), nothing else does.
    /// </summary>
    private void Retire(RouteSupervisor old, string cause, string work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _retiring.Add((old, done.Task, work));
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await old.RetireAsync(cause, ReloadStopPatience).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A route that does not stop cleanly must not keep what waits for it from starting.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ReloadError(_logger, $"route {old.Name} did not stop cleanly: {ex.Message.ReplaceLineEndings(" ")}");
            }
            finally
            {
                lock (_gate)
                {
                    _retiring.RemoveAll(r => r.Done == done.Task);
                }

                Log.ReloadWorkDone(_logger, work);
                done.TrySetResult();
            }
        });
    }

    /// <summary>
    /// Starts <paramref name="next"/> at once, or, while routes of its name or group from an earlier configuration are
    /// still stopping, once they are gone: its members then start at what those committed, without a rebalance
    /// between old and new members of one group. It shows <see cref="RouteState.Starting"/> meanwhile.
    /// </summary>
    private void BeginAfterPredecessors(RouteSupervisor next, string cause)
    {
        List<(RouteSupervisor Old, Task Done, string Work)> before;
        string work;
        lock (_gate)
        {
            before = [.. _retiring.Where(r => r.Old.Name == next.Name || r.Old.Route.Group == next.Route.Group)];
            if (before.Count == 0)
            {
                work = "";
            }
            else
            {
                var others = before.Select(r => r.Old.Name).Where(n => n != next.Name).Distinct().Order(StringComparer.Ordinal).ToList();
                var what = others.Count == 0 ? "its previous definition has" : $"route(s) {string.Join(", ", others)} of group {next.Route.Group} have";
                work = $"route {next.Name}: starts once {what} stopped";
                _waiting.Add((next, work));
            }
        }

        if (before.Count == 0)
        {
            Begin(next, cause);
            return;
        }

        next.StartsAfter($"{cause}; {work[(work.IndexOf(':', StringComparison.Ordinal) + 2)..]}");
        _ = Task.Run(async () =>
        {
            await Task.WhenAll(before.Select(r => r.Done)).ConfigureAwait(false);
            bool current;
            lock (_gate)
            {
                _waiting.RemoveAll(w => ReferenceEquals(w.Next, next));
                // A later reload may have replaced or removed it meanwhile, or kcp may be stopping.
                current = !_closed && _routes.TryGetValue(next.Name, out var now) && ReferenceEquals(now, next);
            }

            if (current)
            {
                Begin(next, cause);
            }
        });
    }

    private ReloadResult Remember(ReloadResult result)
    {
        lock (_gate)
        {
            _lastReload = result;
            if (!result.Accepted)
            {
                _lastRejected = result;
            }
        }

        return result;
    }

    private static bool Unchanged(RouteSupervisor running, RouteDefinition route, KcpConfig old, KcpConfig next) =>
        RouteComparison.Same(running.Route, route)
        && next.Clusters.TryGetValue(route.Cluster, out var cluster)
        && RouteComparison.Same(running.Cluster, cluster)
        // The shared budget it names and its dead-letter cluster are part of the route too.
        && Equals(route.Delivery.Limit is { } limit ? old.Limits.GetValueOrDefault(limit) : null, route.Delivery.Limit is { } same ? next.Limits.GetValueOrDefault(same) : null)
        && (route.DeadLetter.Cluster is not { } dlq
            || (old.Clusters.TryGetValue(dlq, out var before) && next.Clusters.TryGetValue(dlq, out var after) && RouteComparison.Same(before, after)));

    /// <summary>The routes <paramref name="selector"/> picks, or why none.</summary>
    internal (List<RouteSupervisor> Selected, string? Error) Select(RouteSelector selector)
    {
        List<RouteSupervisor> all;
        lock (_gate)
        {
            all = [.. _routes.Values.OrderBy(s => s.Name, StringComparer.Ordinal)];
        }

        if (selector.All)
        {
            return (all, null);
        }

        if (selector.Route is { } name)
        {
            return all.Find(s => s.Name == name) is { } one
                ? ([one], null)
                : ([], $"no route named '{name}'; routes: {string.Join(", ", all.Select(s => s.Name))}");
        }

        if (selector.Topic is { } topic)
        {
            var matching = all.Where(s => s.Route.Topic == topic && (selector.Group is null || s.Route.Group == selector.Group)).ToList();
            return matching.Count > 0 ? (matching, null) : ([], $"no route consumes {selector}");
        }

        return ([], "select routes by name, by --topic (and --group), or --all");
    }

    private async Task ApplyAsync(RouteSupervisor supervisor, RouteAction action, string cause)
    {
        var (paused, stopped) = _operator.Get(supervisor.Name);
        switch (action)
        {
            case RouteAction.Pause:
                // Requested before it is kept, so that once routes.json says paused no delivery starts any more (the
                // write waits for the disk); the pause is then applied, in-flight deliveries finishing.
                var pausing = supervisor.PauseAsync(cause);
                _operator.Set(supervisor.Name, true, stopped);
                await pausing.ConfigureAwait(false);
                break;
            case RouteAction.Resume:
                _operator.Set(supervisor.Name, false, stopped);
                await supervisor.ResumeAsync(cause).ConfigureAwait(false);
                break;
            case RouteAction.Stop:
                _operator.Set(supervisor.Name, paused, true);
                await supervisor.StopAsync(cause).ConfigureAwait(false);
                break;
            case RouteAction.Start:
                _operator.Set(supervisor.Name, paused, false);
                await supervisor.StartAsync(cause).ConfigureAwait(false);
                break;
            case RouteAction.Restart:
                _operator.Set(supervisor.Name, paused, false);
                await supervisor.RestartAsync(cause).ConfigureAwait(false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, null);
        }
    }

    private void Begin(RouteSupervisor supervisor, string cause)
    {
        var (paused, stopped) = _operator.Get(supervisor.Name);
        if (stopped || paused)
        {
            Log.RouteOperatorStateRestored(_logger, supervisor.Name, stopped ? "stopped" : "paused", _operator.Path, stopped ? "start" : "resume");
        }

        supervisor.Start(paused, stopped, cause);
    }
}
