using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// Runs one route's members and keeps them running. A member that fails (a fatal Kafka client error, an exception
/// escaping it) has already committed what finished and left the group; the supervisor then stops the route's other
/// members the same way, shows the route <see cref="RouteState.Failed"/> with the reason and starts it again after
/// <see cref="RestartBackoff"/>. Nothing here touches other routes. Operator requests (pause, resume, stop, start,
/// restart) may come from any thread; every state change is logged with its cause.
/// </summary>
internal sealed class RouteSupervisor : IAsyncDisposable
{
    private readonly Func<int, Action<string>, ISupervisedMember> _createMember;
    private readonly RouteDeliveryResources? _resources;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly RestartBackoff _backoff = new();

    // Under _gate.
    private RouteState _state = RouteState.Stopped;
    private DateTimeOffset _since;
    private string _cause = "not started";
    private bool _paused;
    private bool _stopped;
    private bool _shutdown;
    private bool _restartRequested;
    private string _request = "";
    private DateTimeOffset? _nextRestart;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private List<ISupervisedMember>? _members;
    private CancellationTokenSource? _run;
    private TaskCompletionSource _wake = NewSignal();
    private TaskCompletionSource _changed = NewSignal();
    private Task _loop = Task.CompletedTask;
    private int _runs;

    /// <param name="route">The route; its <c>Concurrency</c> is the number of members.</param>
    /// <param name="createMember">Creates member <c>index</c>; the action receives every error the member reports.</param>
    /// <param name="resources">
    /// Disposed once the supervisor has stopped for good (the route's HTTP connection pool); its requests in flight are
    /// cancelled when a bounded <see cref="RetireAsync"/> runs out of patience.
    /// </param>
    public RouteSupervisor(RouteDefinition route, ClusterDefinition cluster, Func<int, Action<string>, ISupervisedMember> createMember, RouteDeliveryResources? resources, ILogger logger, TimeProvider time)
    {
        Route = route;
        Cluster = cluster;
        _createMember = createMember;
        _resources = resources;
        _logger = logger;
        _time = time;
        _since = time.GetUtcNow();
    }

    public RouteDefinition Route { get; }

    /// <summary>The shared budget (<c>limit</c>) the route takes from; null when it names none.</summary>
    public RequestBudget? SharedBudget { get; init; }

    /// <summary>How long a request must have waited for the shared budget before the status shows the wait. The default value is 1 second.</summary>
    public static readonly TimeSpan BudgetWaitShownAfter = TimeSpan.FromSeconds(1);

    public ClusterDefinition Cluster { get; }

    /// <summary>
    /// The number of partitions of the route's topic as the broker last listed them (null: not known yet); with it a
    /// mode 3 route is watched for a second instance (<see cref="SoleInstanceWatch"/>). Null: not watched.
    /// </summary>
    public Func<int?>? TopicPartitions { get; init; }

    public string Name => Route.Name;

    /// <summary>The current state.</summary>
    public RouteState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public RouteStatus Status()
    {
        lock (_gate)
        {
            return new RouteStatus(Route.Name, Route.Topic, Route.Group, Route.Cluster, Route.Concurrency, _state, _since, _cause,
                _paused, _stopped, _backoff.Failures, _state == RouteState.Failed ? _nextRestart : null, _lastError, _lastErrorAt,
                _members?.Sum(m => m.AssignedPartitions) ?? 0)
            {
                WaitingForBudget = SharedBudget?.WaitOf(Route.Name, BudgetWaitShownAfter),
            };
        }
    }

    /// <summary>Starts supervising; <paramref name="paused"/> and <paramref name="stopped"/> are the operator's state to begin with.</summary>
    public void Start(bool paused, bool stopped, string cause)
    {
        lock (_gate)
        {
            _paused = paused;
            _stopped = stopped;
            _request = cause;
        }

        _loop = Task.Run(LoopAsync);
    }

    /// <summary>
    /// Pauses the route: from the moment this returns its task, its members start no new delivery; once the task
    /// completes, what was in flight is finished and committed.
    /// </summary>
    public async Task PauseAsync(string cause)
    {
        List<ISupervisedMember>? members;
        lock (_gate)
        {
            _paused = true;
            members = _members;
        }

        if (members is not null)
        {
            await Task.WhenAll(members.Select(m => m.SetPausedAsync(true))).ConfigureAwait(false);
            lock (_gate)
            {
                if (_state == RouteState.Running && ReferenceEquals(members, _members))
                {
                    Transition(RouteState.Paused, cause);
                }
            }
        }
    }

    /// <summary>Resumes a paused route.</summary>
    public async Task ResumeAsync(string cause)
    {
        List<ISupervisedMember>? members;
        lock (_gate)
        {
            _paused = false;
            members = _members;
        }

        if (members is not null)
        {
            await Task.WhenAll(members.Select(m => m.SetPausedAsync(false))).ConfigureAwait(false);
            lock (_gate)
            {
                if (_state == RouteState.Paused && ReferenceEquals(members, _members))
                {
                    Transition(RouteState.Running, cause);
                }
            }
        }
    }

    /// <summary>Stops the route (finish, commit, leave the group); it stays stopped until <see cref="StartAsync"/>.</summary>
    public Task StopAsync(string cause)
    {
        lock (_gate)
        {
            _stopped = true;
            _request = cause;
            _run?.Cancel();
            Wake();
        }

        return WaitForAsync(s => s == RouteState.Stopped);
    }

    /// <summary>Starts a stopped route, or a failed one at once instead of after its backoff.</summary>
    public Task StartAsync(string cause)
    {
        int runs;
        lock (_gate)
        {
            var wasIdle = _stopped || _state is RouteState.Failed or RouteState.Stopped;
            _stopped = false;
            if (!wasIdle)
            {
                return Task.CompletedTask;
            }

            _backoff.Reset();
            _request = cause;
            runs = _runs;
            Wake();
        }

        return WaitForAsync(s => s is RouteState.Running or RouteState.Paused or RouteState.Failed, afterRun: runs);
    }

    /// <summary>Stops the route's members (finish, commit, leave) and starts new ones.</summary>
    public Task RestartAsync(string cause)
    {
        int runs;
        lock (_gate)
        {
            _stopped = false;
            _restartRequested = true;
            _request = cause;
            _backoff.Reset();
            runs = _runs;
            _run?.Cancel();
            Wake();
        }

        // Until members of a later run are up (or that run failed).
        return WaitForAsync(s => s is RouteState.Running or RouteState.Paused or RouteState.Failed, afterRun: runs);
    }

    /// <summary>Stops the route for good (kcp stops, or a reload removed or replaced it) and releases its resources.</summary>
    public async Task ShutdownAsync(string cause)
    {
        lock (_gate)
        {
            _shutdown = true;
            _request = cause;
            _run?.Cancel();
            Wake();
        }

        await _loop.ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="ShutdownAsync"/>, then releases the route's resources. With <paramref name="patience"/>, requests
    /// still in flight after that long are cancelled: their messages stay uncommitted (the next owner delivers them),
    /// and the members then commit what finished and leave as usual.
    /// </summary>
    public async Task RetireAsync(string cause, TimeSpan? patience = null)
    {
        var shutdown = ShutdownAsync(cause);
        if (patience is { } bound && _resources is not null)
        {
            using var cancel = new CancellationTokenSource();
            if (await Task.WhenAny(shutdown, Task.Delay(bound, _time, cancel.Token)).ConfigureAwait(false) != shutdown)
            {
                Log.RouteInFlightCancelled(_logger, Route.Name, bound.TotalSeconds, cause);
                _resources.CancelInFlight();
            }

            await cancel.CancelAsync().ConfigureAwait(false);
        }

        await shutdown.ConfigureAwait(false);
        _resources?.Dispose();
    }

    /// <summary>
    /// Shows the route <see cref="RouteState.Starting"/> with <paramref name="cause"/> before <see cref="Start"/>, while
    /// it waits for something else (the members of its previous definition leaving the group).
    /// </summary>
    public void StartsAfter(string cause)
    {
        lock (_gate)
        {
            if (_state == RouteState.Stopped && !_shutdown)
            {
                Transition(RouteState.Starting, cause);
            }
        }
    }

    public async ValueTask DisposeAsync() => await RetireAsync("disposed").ConfigureAwait(false);

    private async Task LoopAsync()
    {
        var restarting = false;
        while (true)
        {
            string cause;
            Task wake;
            lock (_gate)
            {
                cause = _request;
                wake = _wake.Task;
                if (_shutdown || _stopped)
                {
                    if (_state != RouteState.Stopped)
                    {
                        Transition(RouteState.Stopped, cause);
                    }

                    if (_shutdown)
                    {
                        return;
                    }
                }
            }

            if (Stopped())
            {
                // Stopped by the operator: wait for a start, restart or shutdown.
                await wake.ConfigureAwait(false);
                restarting = false;
                continue;
            }

            var failure = await RunOnceAsync(restarting, cause).ConfigureAwait(false);
            restarting = true;
            if (failure is null)
            {
                continue;
            }

            TimeSpan delay;
            lock (_gate)
            {
                wake = _wake.Task;
                _lastError = failure.Value.Reason;
                _lastErrorAt = _time.GetUtcNow();
                if (_shutdown || _stopped || _restartRequested)
                {
                    continue;
                }

                delay = _backoff.NextDelay(failure.Value.RanFor);
                _nextRestart = _time.GetUtcNow() + delay;
                Transition(RouteState.Failed, failure.Value.Reason);
                _request = $"restart after failure {_backoff.Failures} in a row (backoff {delay.TotalSeconds:0.#} s)";
            }

            Log.RouteRestartScheduled(_logger, Route.Name, delay.TotalSeconds, _backoff.Failures);
            using var cancel = new CancellationTokenSource();
            await Task.WhenAny(wake, Task.Delay(delay, _time, cancel.Token)).ConfigureAwait(false);
            await cancel.CancelAsync().ConfigureAwait(false);
        }
    }

    private bool Stopped()
    {
        lock (_gate)
        {
            return _stopped && !_shutdown;
        }
    }

    /// <summary>One life of the route's members; returns the failure that ended it, or null when a request did.</summary>
    private async Task<(string Reason, TimeSpan RanFor)?> RunOnceAsync(bool restarting, string cause)
    {
        using var run = new CancellationTokenSource();
        List<ISupervisedMember> members;
        bool paused;
        lock (_gate)
        {
            _restartRequested = false;
            _runs++;
            Transition(restarting ? RouteState.Restarting : RouteState.Starting, cause);
            paused = _paused;
            _run = run;
        }

        members = [];
        var tasks = new List<Task<Exception?>>();
        try
        {
            for (var i = 0; i < Route.Concurrency; i++)
            {
                var member = _createMember(i, OnMemberError);
                if (paused)
                {
                    // Before it runs: applied as soon as the member has partitions, so nothing is delivered meanwhile.
                    _ = member.SetPausedAsync(true);
                }

                members.Add(member);
                tasks.Add(WatchAsync(member, i, run));
            }
        }
#pragma warning disable CA1031 // Whatever creating a member throws is a failure of this route only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await run.CancelAsync().ConfigureAwait(false);
            tasks.Add(Task.FromResult<Exception?>(ex));
        }

        var started = _time.GetTimestamp();
        bool want;
        lock (_gate)
        {
            _members = members;
            want = _paused;
            if (!run.IsCancellationRequested)
            {
                Transition(_paused ? RouteState.Paused : RouteState.Running, restarting ? "members started again" : "members started");
            }
        }

        if (want != paused)
        {
            // A pause or resume came while the members were being created, before they could be told.
            foreach (var member in members)
            {
                _ = member.SetPausedAsync(want);
            }
        }

        var watch = WatchSoleInstance(members, run.Token);
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        await run.CancelAsync().ConfigureAwait(false);
        await watch.ConfigureAwait(false);
        lock (_gate)
        {
            _members = null;
            _run = null;
        }

        var failures = results.Where(r => r is not null).Select(r => r!.Message.ReplaceLineEndings(" ")).Distinct().ToList();
        return failures.Count == 0 ? null : (string.Join("; ", failures), _time.GetElapsedTime(started));
    }

    /// <summary>In guarantee mode 3, stops the route when another instance of its group holds partitions (docs/FLEET.md).</summary>
    private Task WatchSoleInstance(List<ISupervisedMember> members, CancellationToken stop)
    {
        if (Route.Offsets.MessageDeliveryGuarantees != DeliveryGuarantee.NoRepeatOnOneMachine || TopicPartitions is not { } partitions)
        {
            return Task.CompletedTask;
        }

        var watch = new SoleInstanceWatch(Route, Cluster, () => members.Sum(m => m.AssignedPartitions), partitions, cause => _ = StopAsync(cause), _logger, _time);
        return watch.RunAsync(stop);
    }

    private async Task<Exception?> WatchAsync(ISupervisedMember member, int index, CancellationTokenSource run)
    {
        try
        {
            await member.RunAsync(run.Token).ConfigureAwait(false);
            if (run.IsCancellationRequested)
            {
                return null;
            }

            throw new InvalidOperationException($"member {index} ended without being asked to stop");
        }
#pragma warning disable CA1031 // A member's failure is this route's failure, never the process's.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MemberFailed(_logger, Route.Name, index, ex.Message.ReplaceLineEndings(" "));
            await run.CancelAsync().ConfigureAwait(false);
            return ex;
        }
    }

    private void OnMemberError(string error)
    {
        lock (_gate)
        {
            _lastError = error;
            _lastErrorAt = _time.GetUtcNow();
        }
    }

    private async Task WaitForAsync(Func<RouteState, bool> reached, int afterRun = -1)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if ((reached(_state) && _runs > afterRun) || _shutdown)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.ConfigureAwait(false);
        }
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private void Transition(RouteState to, string cause)
    {
        var from = _state;
        _state = to;
        _cause = cause;
        // The same state again (a route shown starting while it waited now creates its members) only changes the cause.
        if (from != to)
        {
            _since = _time.GetUtcNow();
            if (to == RouteState.Failed)
            {
                Log.RouteFailed(_logger, Route.Name, from.ToString().ToLowerInvariant(), cause);
            }
            else
            {
                Log.RouteStateChanged(_logger, Route.Name, from.ToString().ToLowerInvariant(), to.ToString().ToLowerInvariant(), cause);
            }
        }

        var changed = _changed;
        _changed = NewSignal();
        changed.TrySetResult();
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private void Wake()
    {
        var wake = _wake;
        _wake = NewSignal();
        wake.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
