using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The route's circuit breaker as a state machine on a fake clock: answers are fed in through <see cref="CircuitBreaker.Exit"/>,
/// and what <see cref="CircuitBreaker.EnterAsync"/> lets start is read back. A waiter held by the breaker can only move
/// on a transition or on its probe timer, so "still waiting" after the clock stood still is a fact, not a guess.
/// </summary>
public sealed class CircuitBreakerTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly DeliveryResult Ok = new(DeliveryOutcome.Success, "h", TimeSpan.FromMilliseconds(5), 200);
    private static readonly DeliveryResult Unavailable = new(DeliveryOutcome.BadStatus, "h", TimeSpan.FromMilliseconds(1), 503);
    private static readonly DeliveryResult NotFound = new(DeliveryOutcome.BadStatus, "h", TimeSpan.FromMilliseconds(1), 404);

    [Theory]
    [InlineData(DeliveryOutcome.BadStatus, 500, true)]
    [InlineData(DeliveryOutcome.BadStatus, 503, true)]
    [InlineData(DeliveryOutcome.BadStatus, 429, true)]
    [InlineData(DeliveryOutcome.BadStatus, 408, true)]
    [InlineData(DeliveryOutcome.BadStatus, 400, false)]
    [InlineData(DeliveryOutcome.BadStatus, 404, false)]
    [InlineData(DeliveryOutcome.BadStatus, 422, false)]
    [InlineData(DeliveryOutcome.ConnectionError, null, true)]
    [InlineData(DeliveryOutcome.ConnectTimeout, null, true)]
    [InlineData(DeliveryOutcome.Timeout, null, true)]
    [InlineData(DeliveryOutcome.TlsError, null, true)]
    [InlineData(DeliveryOutcome.AuthError, null, true)]
    [InlineData(DeliveryOutcome.RejectedBody, 200, false)]
    [InlineData(DeliveryOutcome.Success, 200, false)]
    [InlineData(DeliveryOutcome.RetryListed, 200, false)]
    public void IsOutageSign_OutagesAndOverloadCount_AMessagesOwnRefusalDoesNot_Issue20(DeliveryOutcome outcome, int? status, bool expected) =>
        Assert.Equal(expected, CircuitBreaker.IsOutageSign(new DeliveryResult(outcome, "h", TimeSpan.Zero, status)));

    [Fact]
    public async Task Opens_AfterConsecutiveFailures_AnAnswerOfAWorkingEndpointResetsTheCount_Issue20()
    {
        var clock = new TimerClock();
        var breaker = new CircuitBreaker(3, Interval, 100, clock);

        await FailAsync(breaker, 1, Unavailable);
        await FailAsync(breaker, 1, Unavailable);
        await FailAsync(breaker, 1, NotFound);
        await FailAsync(breaker, 1, Unavailable);
        await FailAsync(breaker, 1, Unavailable);
        Assert.Equal(BreakerState.Closed, breaker.State);

        await FailAsync(breaker, 1, Unavailable);
        Assert.Equal(BreakerState.Open, breaker.State);
        Assert.Equal("open", breaker.View().State);
        Assert.Equal(1, breaker.View().Value);
    }

    [Fact]
    public async Task Open_OneProbePerInterval_FailedProbeWaitsAnother_SuccessClosesAndReleasesTheWaiters_Issue20()
    {
        var clock = new TimerClock();
        var transitions = new List<(BreakerState From, BreakerState To)>();
        var breaker = new CircuitBreaker(2, Interval, 100, clock, (from, to, _) =>
        {
            lock (transitions)
            {
                transitions.Add((from, to));
            }
        });
        await FailAsync(breaker, 1, Unavailable);
        await FailAsync(breaker, 2, Unavailable);
        Assert.Equal(BreakerState.Open, breaker.State);

        var first = breaker.EnterAsync(CancellationToken.None).AsTask();
        var second = breaker.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(first.IsCompleted || second.IsCompleted);

        // Not yet due: nothing starts.
        clock.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.False(first.IsCompleted || second.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        var probe = await Task.WhenAny(first, second).WaitAsync(Patience);
        var other = probe == first ? second : first;
        Assert.True((await probe).IsProbe);
        Assert.Equal(BreakerState.HalfOpen, breaker.State);
        Assert.Equal(1, breaker.Probes);
        Assert.False(other.IsCompleted);

        // A failed probe does not count toward retry_nums and reopens for a whole interval from its answer.
        clock.Advance(TimeSpan.FromMilliseconds(300));
        Assert.False(breaker.Exit(await probe, Unavailable, 1));
        Assert.Equal(BreakerState.Open, breaker.State);
        clock.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.False(other.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var secondProbe = await other.WaitAsync(Patience);
        Assert.True(secondProbe.IsProbe);
        Assert.Equal(2, breaker.Probes);

        // A third caller waits behind the probe in flight; the probe's success closes the breaker and lets it go.
        var third = breaker.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.True(breaker.Exit(secondProbe, Ok, 2));
        Assert.Equal(BreakerState.Closed, breaker.State);
        Assert.False((await third.WaitAsync(Patience)).IsProbe);

        Assert.Equal(
            [(BreakerState.Closed, BreakerState.Open), (BreakerState.Open, BreakerState.HalfOpen), (BreakerState.HalfOpen, BreakerState.Open),
             (BreakerState.Open, BreakerState.HalfOpen), (BreakerState.HalfOpen, BreakerState.Closed)],
            transitions);
    }

    [Fact]
    public async Task Close_SlowStart_InFlightLimitGrowsWithEachSuccess_UntilItNoLongerBinds_Issue20()
    {
        var clock = new TimerClock();
        var breaker = new CircuitBreaker(1, Interval, 100, clock);
        await FailAsync(breaker, 1, Unavailable);
        var waiters = Enumerable.Range(0, 8).Select(_ => breaker.EnterAsync(CancellationToken.None).AsTask()).ToList();
        clock.Advance(Interval);
        var probe = await Task.WhenAny(waiters).WaitAsync(Patience);
        waiters.Remove(probe);
        breaker.Exit(await probe, Ok, 1);

        // Closed with a limit of 2: two of the seven waiters start, the rest wait for them.
        Assert.Equal(2, breaker.RampLimit);
        var started = await StartedAsync(waiters, 2);
        Assert.Equal(5, waiters.Count);

        // Each success adds one: two successes make room for four, then the limit is 6 with 5 waiting.
        breaker.Exit(started[0], Ok, 2);
        breaker.Exit(started[1], Ok, 3);
        Assert.Equal(4, breaker.RampLimit);
        started = await StartedAsync(waiters, 4);
        var remaining = Assert.Single(waiters);
        foreach (var pass in started)
        {
            breaker.Exit(pass, Ok, 4);
        }

        // The last one started under the limit; once nobody waits and the limit is more than twice what is in flight, it ends.
        var last = await remaining.WaitAsync(Patience);
        breaker.Exit(last, Ok, 5);
        Assert.Equal(0, breaker.RampLimit);
    }

    [Fact]
    public async Task Counts_AMessageFailingAlone_NotOneOfAStreakOfSeveralMessages_Issue20()
    {
        var breaker = new CircuitBreaker(20, Interval, 100, new TimerClock());

        // Message 1 fails alone: each failure counts toward its retry_nums.
        Assert.True(await FailAsync(breaker, 1, Unavailable));
        Assert.True(await FailAsync(breaker, 1, Unavailable));

        // Message 2 fails in the same streak: the route looks down, no failure of either counts any more.
        Assert.False(await FailAsync(breaker, 2, Unavailable));
        Assert.False(await FailAsync(breaker, 1, Unavailable));

        // A message's own refusal (404) always counts, and shows a working endpoint: the streak starts again.
        Assert.True(await FailAsync(breaker, 2, NotFound));
        Assert.True(await FailAsync(breaker, 1, Unavailable));
    }

    [Fact]
    public async Task UnsentProbe_LetsTheNextWaiterProbeAtOnce_CancelledWaiterThrows_Issue20()
    {
        var clock = new TimerClock();
        var breaker = new CircuitBreaker(1, Interval, 100, clock);
        await FailAsync(breaker, 1, Unavailable);
        using var cancel = new CancellationTokenSource();
        var cancelled = breaker.EnterAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));

        clock.Advance(Interval);
        var probe = await breaker.EnterAsync(CancellationToken.None).AsTask().WaitAsync(Patience);
        var next = breaker.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(next.IsCompleted);

        // Abandoned before it was sent: nothing learnt, no new interval.
        Assert.False(breaker.Exit(probe, null, 1));
        Assert.True((await next.WaitAsync(Patience)).IsProbe);
        Assert.Equal(2, breaker.Probes);
    }

    // One attempt of message `caller` ending with `result`; whether it counts toward retry_nums.
    private static async Task<bool> FailAsync(CircuitBreaker breaker, long caller, DeliveryResult result)
    {
        var pass = await breaker.EnterAsync(CancellationToken.None).AsTask().WaitAsync(Patience);
        return breaker.Exit(pass, result, caller);
    }

    // Waits until `count` of `waiters` have started, removes them from the list and returns their passes.
    private static async Task<List<BreakerPass>> StartedAsync(List<Task<BreakerPass>> waiters, int count)
    {
        await Eventually.ValueAsync(() => Task.FromResult(waiters.Count(w => w.IsCompleted)), n => n >= count, $"{count} waiters started", Patience);
        var started = waiters.Where(w => w.IsCompleted).ToList();
        Assert.Equal(count, started.Count);
        waiters.RemoveAll(started.Contains);
        return [.. started.Select(t => t.Result)];
    }
}
