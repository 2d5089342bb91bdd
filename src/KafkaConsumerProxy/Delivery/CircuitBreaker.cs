using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>The state of a route's circuit breaker; the number is the value of <c>kcp_breaker_state</c>.</summary>
public enum BreakerState
{
    /// <summary>0: attempts start as usual (after a close, up to the slow start's limit).</summary>
    Closed = 0,

    /// <summary>1: no attempt starts but one probe per <c>breaker_probe_interval_ms</c>.</summary>
    Open = 1,

    /// <summary>2: the probe is in flight; nothing else starts until its answer closes or reopens the breaker.</summary>
    HalfOpen = 2,
}

/// <summary>An attempt the breaker let start; hand it back to <see cref="CircuitBreaker.Exit"/> with the attempt's result.</summary>
/// <param name="IsProbe">The attempt is the probe of an open breaker.</param>
internal readonly record struct BreakerPass(bool IsProbe);

/// <summary>
/// A route's circuit breaker (<c>breaker_failures</c>, <c>breaker_probe_interval_ms</c>), shared by all its partitions
/// and members:
/// <list type="bullet">
/// <item>Closed: it counts consecutive failed attempts that look like an outage (<see cref="IsOutageSign"/>); any other
/// answer resets the count. At <c>breaker_failures</c> it opens.</item>
/// <item>Open: no attempt starts; callers of <see cref="EnterAsync"/> wait. Once per probe interval one of them goes as
/// the probe (half-open). A failed probe reopens it for another interval; a probe that was not sent (abandoned) lets the
/// next waiter probe at once.</item>
/// <item>The first answer that is not an outage sign (the probe's, or one of an attempt already in flight when it
/// opened) closes it with a slow start: the route's attempts in flight start at 2 and grow by one per such answer
/// (doubling per round of answers, as <see cref="AdaptiveConcurrencyLimit"/>'s slow start), until the limit no longer
/// binds (nobody waits and fewer than half of it are in flight) or reaches <c>rampMax</c>.</item>
/// </list>
/// <see cref="Exit"/> says whether a failed attempt counts toward <c>retry_nums</c>: not a probe, not one that ended
/// while the breaker was open, and not one of a streak of failures that already holds other messages' failures (the
/// route looks down, not the message bad). Only a message that fails alone since the route's last good answer uses up
/// its retries, so an outage does not turn into skips or dead letters while the breaker gathers its evidence.
/// </summary>
/// <remarks>
/// Not Polly's circuit breaker: Polly v8 breaks on a failure ratio over a sampling window (no consecutive count),
/// rejects calls while open with <c>BrokenCircuitException</c> instead of holding them until a probe is due, and has no
/// slow start after closing; the deliverer would have to catch, wait and re-enter around it, and decide alone which
/// failures count toward <c>retry_nums</c>. The state machine here is small and is tested with a fake clock.
/// Thread-safe.
/// </remarks>
internal sealed class CircuitBreaker
{
    private readonly Lock _lock = new();
    private readonly int _threshold;
    private readonly TimeSpan _probeInterval;
    private readonly int _rampMax;
    private readonly TimeProvider _time;
    private readonly Action<BreakerState, BreakerState, DeliveryResult?>? _changed;
    private BreakerState _state;
    private int _streak;
    private long _streakOwner;
    private bool _streakShared;
    private DateTimeOffset _nextProbeAt;
    private DateTimeOffset _since;
    private long _probes;
    private int _active;
    private int _waiting;
    private int _rampLimit;
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="failures">Consecutive outage signs that open it (at least 1).</param>
    /// <param name="probeInterval">The wait between probes while open.</param>
    /// <param name="rampMax">The route's own upper bound of attempts in flight, where the slow start ends at the latest.</param>
    /// <param name="changed">Called with (from, to, the answer that moved it; null for an attempt not sent) after each transition, under no lock.</param>
    public CircuitBreaker(int failures, TimeSpan probeInterval, int rampMax, TimeProvider time, Action<BreakerState, BreakerState, DeliveryResult?>? changed = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rampMax, 1);
        _threshold = failures;
        _probeInterval = probeInterval;
        _rampMax = rampMax;
        _time = time;
        _changed = changed;
        _since = time.GetUtcNow();
    }

    /// <summary>
    /// The breaker of <paramref name="route"/> (null with <c>breaker_failures: 0</c>), publishing its state to
    /// <paramref name="metrics"/> and logging each move between closed and open once.
    /// </summary>
    public static CircuitBreaker? ForRoute(RouteDefinition route, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        var retry = route.Retry;
        if (retry.BreakerFailures <= 0)
        {
            metrics.SetBreaker(route.Name, null);
            return null;
        }

        // The route's own bound of attempts in flight with async delivery; sync routes end the slow start by demand.
        var rampMax = route.Delivery.AsyncConcurrency > 0
            ? (int)Math.Min(int.MaxValue, (long)route.Delivery.AsyncConcurrency * Math.Max(1, route.Concurrency))
            : int.MaxValue;
        CircuitBreaker? breaker = null;
        var (openedAt, probesAtOpen) = (time.GetUtcNow(), 0L);
        breaker = new CircuitBreaker(retry.BreakerFailures, TimeSpan.FromMilliseconds(retry.BreakerProbeIntervalMs), rampMax, time, (from, to, answer) =>
        {
            var probes = breaker!.Probes;
            if (from == BreakerState.Closed)
            {
                (openedAt, probesAtOpen) = (time.GetUtcNow(), probes);
                Log.BreakerOpened(logger, route.Name, retry.BreakerFailures, answer?.Describe() ?? "", retry.BreakerProbeIntervalMs);
            }
            else if (to == BreakerState.Closed)
            {
                Log.BreakerClosed(logger, route.Name, (time.GetUtcNow() - openedAt).TotalSeconds, probes - probesAtOpen, answer?.Describe() ?? "");
            }
        });
        metrics.SetBreaker(route.Name, breaker.View);
        return breaker;
    }

    /// <summary>The current state.</summary>
    public BreakerState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>When the current state began (the start for a breaker that never moved).</summary>
    public DateTimeOffset Since
    {
        get
        {
            lock (_lock)
            {
                return _since;
            }
        }
    }

    /// <summary>The state, when it began and the probes sent, read together.</summary>
    public BreakerView View()
    {
        lock (_lock)
        {
            return new BreakerView(BreakerView.StateNames[(int)_state], _since, _probes);
        }
    }

    /// <summary>Probes sent since kcp built the route.</summary>
    public long Probes => Interlocked.Read(ref _probes);

    /// <summary>The slow start's limit of attempts in flight; 0 when none applies.</summary>
    public int RampLimit
    {
        get
        {
            lock (_lock)
            {
                return _rampLimit;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="result"/> looks like the endpoint (or the way to it) is down rather than the message at
    /// fault: no connection, a timeout, a TLS or token failure, 5xx, 408 and 429. Any other 4xx, a 2xx whose body
    /// refused the message (<c>errno</c>) and an answer with a <c>Kcp-Action</c> are answers of a working endpoint
    /// about that message.
    /// </summary>
    public static bool IsOutageSign(DeliveryResult result) => result.Outcome switch
    {
        DeliveryOutcome.Success or DeliveryOutcome.RetryListed or DeliveryOutcome.RejectedBody or DeliveryOutcome.EndpointAction => false,
        DeliveryOutcome.BadStatus => result.StatusCode is >= 500 or 408 or 429,
        _ => true,
    };

    /// <summary>
    /// Waits until an attempt may start: at once while closed (under the slow start's limit after a close); while open,
    /// until this caller may send the probe or the breaker closes. Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancel"/> ends the wait.
    /// </summary>
    public async ValueTask<BreakerPass> EnterAsync(CancellationToken cancel)
    {
        // A waiter stays counted in _waiting from its first wait until it gets its pass, so that the slow start never
        // sees "nobody waits" while waiters are between a wake-up and their next look.
        var waiting = false;
        try
        {
            while (true)
            {
                Task signal;
                TimeSpan wait;
                lock (_lock)
                {
                    if (waiting)
                    {
                        (_waiting, waiting) = (_waiting - 1, false);
                    }

                    var now = _time.GetUtcNow();
                    if (_state == BreakerState.Closed && (_rampLimit == 0 || _active < _rampLimit))
                    {
                        _active++;
                        return new BreakerPass(false);
                    }

                    if (_state == BreakerState.Open && now >= _nextProbeAt)
                    {
                        Move(BreakerState.HalfOpen, now);
                        _active++;
                        _probes++;
                        signal = Task.CompletedTask;
                        wait = TimeSpan.Zero;
                    }
                    else
                    {
                        signal = _signal.Task;
                        wait = _state == BreakerState.Open ? _nextProbeAt - now : Timeout.InfiniteTimeSpan;
                        (_waiting, waiting) = (_waiting + 1, true);
                    }
                }

                if (!waiting)
                {
                    _changed?.Invoke(BreakerState.Open, BreakerState.HalfOpen, null);
                    return new BreakerPass(true);
                }

                await WaitAsync(signal, wait, cancel).ConfigureAwait(false);
            }
        }
        finally
        {
            if (waiting)
            {
                lock (_lock)
                {
                    _waiting--;
                }
            }
        }
    }

    /// <summary>
    /// The attempt of <paramref name="pass"/> ended with <paramref name="result"/> (null: it was not sent, or was
    /// cancelled by the route). <paramref name="caller"/> names the message or batch, the same for all its attempts.
    /// Returns whether a failure counts toward <c>retry_nums</c> (true for a success and for a failure that is not an
    /// outage sign).
    /// </summary>
    public bool Exit(BreakerPass pass, DeliveryResult? result, long caller)
    {
        (BreakerState From, BreakerState To)? moved = null;
        bool counts;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            _active--;
            if (result is not { } answer)
            {
                if (pass.IsProbe && _state == BreakerState.HalfOpen)
                {
                    // Nothing was learnt: the next waiter probes at once.
                    moved = (_state, BreakerState.Open);
                    _state = BreakerState.Open;
                    _nextProbeAt = now;
                }

                counts = false;
            }
            else if (!IsOutageSign(answer))
            {
                _streak = 0;
                if (_state != BreakerState.Closed)
                {
                    moved = (_state, BreakerState.Closed);
                    Move(BreakerState.Closed, now);
                    _rampLimit = 1;
                }

                if (_rampLimit > 0)
                {
                    _rampLimit++;
                    if (_rampLimit >= _rampMax || (_waiting == 0 && _active * 2 < _rampLimit))
                    {
                        _rampLimit = 0;
                    }
                }

                counts = true;
            }
            else if (pass.IsProbe || _state != BreakerState.Closed)
            {
                if (_state == BreakerState.HalfOpen && pass.IsProbe)
                {
                    moved = (_state, BreakerState.Open);
                    _state = BreakerState.Open;
                    _nextProbeAt = now + _probeInterval;
                }

                counts = false;
            }
            else
            {
                if (_streak == 0)
                {
                    (_streakOwner, _streakShared) = (caller, false);
                }
                else if (caller != _streakOwner)
                {
                    _streakShared = true;
                }

                _streak++;
                if (_streak >= _threshold)
                {
                    moved = (_state, BreakerState.Open);
                    Move(BreakerState.Open, now);
                    _rampLimit = 0;
                    _nextProbeAt = now + _probeInterval;
                    counts = false;
                }
                else
                {
                    counts = !_streakShared;
                }
            }

            if (moved is not null || _waiting > 0)
            {
                Signal();
            }
        }

        if (moved is var (from, to))
        {
            _changed?.Invoke(from, to, result);
        }

        return counts;
    }

    // Under _lock. A move between closed and open (either way) starts a new "since"; half-open flips do not.
    private void Move(BreakerState to, DateTimeOffset now)
    {
        if ((_state == BreakerState.Closed) != (to == BreakerState.Closed))
        {
            _since = now;
        }

        _state = to;
    }

    // Under _lock: wakes every waiter to look again.
    private void Signal()
    {
        var signal = _signal;
        _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        signal.TrySetResult();
    }

    private async Task WaitAsync(Task signal, TimeSpan wait, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        await Task.WhenAny(signal, Task.Delay(wait, _time, stop.Token)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        cancel.ThrowIfCancellationRequested();
    }
}
