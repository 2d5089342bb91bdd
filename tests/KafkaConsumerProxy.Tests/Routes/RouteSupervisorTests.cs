using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>The supervisor's state machine and backoff, with fake members and a fake clock.</summary>
public sealed class RouteSupervisorTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TimerClock _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly List<FakeMember> _members = [];
    private readonly Lock _gate = new();

    [Fact]
    public async Task MemberFails_RouteFailedWithReason_RestartedAfterOneThenTwoSeconds()
    {
        await using var supervisor = Create(concurrency: 2);
        supervisor.Start(paused: false, stopped: false, "test");
        await WaitForAsync(supervisor, RouteState.Running);
        Assert.Equal(2, Members().Count);
        Assert.Equal(2, supervisor.Status().AssignedPartitions);

        Members()[0].Fail("fatal Kafka client error: fenced");

        await WaitForAsync(supervisor, RouteState.Failed);
        var failed = supervisor.Status();
        Assert.Contains("fenced", failed.Cause, StringComparison.Ordinal);
        Assert.Contains("fenced", failed.LastError, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(1), failed.NextRestart);
        // The healthy member of the failed route was stopped too, through its stop token (commit, leave).
        Assert.True(Members()[1].StoppedCleanly);

        // Absence on the fake clock: a millisecond early, the restart's timer has not fired, so nothing restarted it.
        var restart = await RestartTimerAsync();
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, restart.Fired);
        Assert.Equal(RouteState.Failed, supervisor.State);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitForAsync(supervisor, RouteState.Running);
        Assert.Equal(4, Members().Count);

        Members()[2].Fail("again");
        await WaitForAsync(supervisor, RouteState.Failed);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(2), supervisor.Status().NextRestart);
        Assert.Equal(2, supervisor.Status().Failures);
        await RestartTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(2));
        await WaitForAsync(supervisor, RouteState.Running);
    }

    [Fact]
    public async Task MemberFailsAfterFiveHealthyMinutes_BackoffStartsAgainAtOneSecond()
    {
        await using var supervisor = Create(concurrency: 1);
        supervisor.Start(false, false, "test");
        await WaitForAsync(supervisor, RouteState.Running);
        for (var i = 0; i < 3; i++)
        {
            Members()[^1].Fail("boom");
            await WaitForAsync(supervisor, RouteState.Failed);
            await RestartTimerAsync();
            _time.Advance(supervisor.Status().NextRestart!.Value - _time.GetUtcNow());
            await WaitForAsync(supervisor, RouteState.Running);
        }

        _time.Advance(TimeSpan.FromMinutes(5));
        Members()[^1].Fail("boom");
        await WaitForAsync(supervisor, RouteState.Failed);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(1), supervisor.Status().NextRestart);
    }

    [Fact]
    public async Task StopWhileFailed_StaysStopped_StartRunsAtOnce()
    {
        await using var supervisor = Create(concurrency: 1);
        supervisor.Start(false, false, "test");
        await WaitForAsync(supervisor, RouteState.Running);
        Members()[0].Fail("boom");
        await WaitForAsync(supervisor, RouteState.Failed);

        await supervisor.StopAsync("operator").WaitAsync(Patience);
        // Absence on the fake clock: the restart's timer went with the stop, and nothing is armed that could start it.
        Assert.Empty(_time.Armed);
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(RouteState.Stopped, supervisor.State);
        Assert.Single(Members());

        await supervisor.StartAsync("operator").WaitAsync(Patience);
        Assert.Equal(RouteState.Running, supervisor.State);
        Assert.Equal(2, Members().Count);
        Assert.Equal(0, supervisor.Status().Failures);
    }

    [Fact]
    public async Task PauseResumeRestart_ForwardedToMembers_RestartKeepsThePause()
    {
        await using var supervisor = Create(concurrency: 2);
        supervisor.Start(false, false, "test");
        await WaitForAsync(supervisor, RouteState.Running);

        await supervisor.PauseAsync("operator").WaitAsync(Patience);
        Assert.Equal(RouteState.Paused, supervisor.State);
        Assert.All(Members(), m => Assert.True(m.Paused));

        await supervisor.RestartAsync("operator").WaitAsync(Patience);
        Assert.Equal(RouteState.Paused, supervisor.State);
        Assert.Equal(4, Members().Count);
        Assert.All(Members().Take(2), m => Assert.True(m.StoppedCleanly));
        Assert.All(Members().Skip(2), m => Assert.True(m.Paused));

        await supervisor.ResumeAsync("operator").WaitAsync(Patience);
        Assert.Equal(RouteState.Running, supervisor.State);
        Assert.All(Members().Skip(2), m => Assert.False(m.Paused));
    }

    [Fact]
    public async Task Pause_EveryMemberAskedBeforeTheCallReturns_CompletesOnlyOnceAllApplied()
    {
        await using var supervisor = Create(concurrency: 2);
        supervisor.Start(false, false, "test");
        await WaitForAsync(supervisor, RouteState.Running);
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Members()[1].Applying = applied.Task;

        // The registry keeps the pause in routes.json after this returns and before awaiting it: by then it must hold.
        var pausing = supervisor.PauseAsync("operator");
        Assert.All(Members(), m => Assert.True(m.Paused));
        Assert.False(pausing.IsCompleted, "the pause completed before a member applied it");
        Assert.Equal(RouteState.Running, supervisor.State);

        applied.SetResult();
        await pausing.WaitAsync(Patience);
        Assert.Equal(RouteState.Paused, supervisor.State);
    }

    [Fact]
    public async Task StartedStopped_CreatesNoMember_UntilStarted()
    {
        await using var supervisor = Create(concurrency: 1);
        supervisor.Start(paused: false, stopped: true, "test");
        await WaitForAsync(supervisor, RouteState.Stopped);
        // No clock is involved in this absence (a route started stopped waits for an operator's start, not for a timer),
        // so a short real-time window is all that can show it.
        await Task.Delay(50);
        Assert.Empty(Members());

        await supervisor.StartAsync("operator").WaitAsync(Patience);
        Assert.Single(Members());
    }

    [Fact]
    public async Task MemberCreationThrows_RouteFailedAndRetried()
    {
        var attempts = 0;
        await using var supervisor = new RouteSupervisor(Route(1), Cluster(), (i, _) =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                throw new InvalidOperationException("cannot build consumer");
            }

            return Add(new FakeMember());
        }, null, NullLogger.Instance, _time);
        supervisor.Start(false, false, "test");
        await WaitForAsync(supervisor, RouteState.Failed);
        Assert.Contains("cannot build consumer", supervisor.Status().Cause, StringComparison.Ordinal);
        await RestartTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitForAsync(supervisor, RouteState.Running);
    }

    private RouteSupervisor Create(int concurrency) =>
        new(Route(concurrency), Cluster(), (_, _) => Add(new FakeMember()), null, NullLogger.Instance, _time);

    private FakeMember Add(FakeMember member)
    {
        lock (_gate)
        {
            _members.Add(member);
        }

        return member;
    }

    private List<FakeMember> Members()
    {
        lock (_gate)
        {
            return [.. _members];
        }
    }

    // The route shows Failed before its restart's timer is armed; the clock must not move before it is, or the
    // timer would be due a whole backoff after the move.
    private async Task<ClockTimer> RestartTimerAsync() => Assert.Single(await _time.ArmedAsync(1, "the restart's timer", Patience));

    private static Task WaitForAsync(RouteSupervisor supervisor, RouteState state) =>
        Eventually.ValueAsync(() => (supervisor.State, supervisor.Status().Cause), now => now.State == state, $"route {state}", Patience, now => $"{now.State} ({now.Cause})", TimeSpan.FromMilliseconds(10));

    private static ClusterDefinition Cluster() => new("default", "localhost:9092", new Dictionary<string, string>());

    private static RouteDefinition Route(int concurrency) => new()
    {
        Name = "r",
        SourceFile = "/tmp/r.yaml",
        Topic = "t",
        Group = "g",
        Concurrency = concurrency,
        Endpoint = new EndpointSettings { Hosts = ["127.0.0.1"], Port = 80, Url = "/", ConnTimeoutMs = 1000, ExecTimeoutMs = 1000 },
        Retry = new RetrySettings { CanSkip = false, RetryNums = 0, RetryIntervalMs = 10 },
        Offsets = new OffsetSettings { UseSavedOffsetTime = 0 },
    };

    private sealed class FakeMember : ISupervisedMember
    {
        private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _paused;

        public bool Paused => _paused;

        public int AssignedPartitions => 1;

        public bool StoppedCleanly { get; private set; }

        public void Fail(string reason) => _failed.TrySetException(new InvalidOperationException(reason));

        public async Task RunAsync(CancellationToken stop)
        {
            var stopped = Task.Delay(Timeout.Infinite, stop);
            var ended = await Task.WhenAny(stopped, _failed.Task);
            await ended.ContinueWith(_ => { }, TaskScheduler.Default);
            if (ended == _failed.Task)
            {
                await _failed.Task;
            }

            StoppedCleanly = true;
        }

        /// <summary>What <see cref="SetPausedAsync"/> returns: when the member has applied it (default: at once).</summary>
        public Task Applying { get; set; } = Task.CompletedTask;

        public Task SetPausedAsync(bool paused)
        {
            _paused = paused;
            return Applying;
        }
    }
}
