using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that keeps the timers it creates, so that a test can state an absence without
/// waiting in real time. The fake clock runs a due timer's callback inside <see cref="FakeTimeProvider.Advance"/>: a
/// timer that has not fired when Advance returns does not fire until the clock moves again, and code that acts only
/// when its timer fires (a backoff, a <c>Retry-After</c> wait) has not acted and will not.
/// </summary>
public sealed class TimerClock : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ClockTimer> _timers = [];

    public TimerClock()
    {
    }

    public TimerClock(DateTimeOffset start)
        : base(start)
    {
    }

    /// <summary>Every timer created so far, oldest first.</summary>
    public IReadOnlyList<ClockTimer> Timers
    {
        get
        {
            lock (_gate)
            {
                return [.. _timers];
            }
        }
    }

    /// <summary>The timers that fire when the clock reaches their due time: not disposed, due at a finite time.</summary>
    public IReadOnlyList<ClockTimer> Armed => [.. Timers.Where(t => t.DueAt is not null)];

    /// <summary>The one-shot timers created with a finite due time above zero (waits: a backoff, a retry interval, a gate), oldest first.</summary>
    public IReadOnlyList<ClockTimer> Waits => [.. Timers.Where(t => t.IsWait)];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new ClockTimer(this, dueTime, period);
        timer.Inner = base.CreateTimer(s =>
        {
            timer.OnFired();
            callback(s);
        }, state, dueTime, period);

        // Listed once the fake clock holds it: a test that sees it armed and moves the clock fires it.
        lock (_gate)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    /// <summary>Waits, bounded in real time, until exactly <paramref name="count"/> timers are armed; returns them.</summary>
    /// <exception cref="TimeoutException">Not within <paramref name="timeout"/>; the message names <paramref name="what"/>.</exception>
    public Task<IReadOnlyList<ClockTimer>> ArmedAsync(int count, string what, TimeSpan timeout) =>
        Eventually.ValueAsync(() => Armed, armed => armed.Count == count, what, timeout, armed => $"{armed.Count} armed: {string.Join(", ", armed)}", TimeSpan.FromMilliseconds(5));
}

/// <summary>A timer of a <see cref="TimerClock"/>: when it is due and how often it fired.</summary>
public sealed class ClockTimer : ITimer
{
    private readonly TimerClock _clock;
    private readonly Lock _gate = new();
    private readonly bool _isWait;
    private DateTimeOffset? _dueAt;
    private TimeSpan _period;
    private int _fired;
    private bool _disposed;

    internal ClockTimer(TimerClock clock, TimeSpan dueTime, TimeSpan period)
    {
        _clock = clock;
        DueTime = dueTime;
        _isWait = dueTime > TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan && period == Timeout.InfiniteTimeSpan;
        Arm(dueTime, period);
    }

    /// <summary>The due time it was created with.</summary>
    public TimeSpan DueTime { get; }

    /// <summary>When it fires next; null when it never will (disposed, fired once, or stopped).</summary>
    public DateTimeOffset? DueAt
    {
        get
        {
            lock (_gate)
            {
                return _disposed ? null : _dueAt;
            }
        }
    }

    /// <summary>How often its callback ran.</summary>
    public int Fired
    {
        get
        {
            lock (_gate)
            {
                return _fired;
            }
        }
    }

    internal bool IsWait => _isWait;

    internal ITimer? Inner { get; set; }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        Arm(dueTime, period);
        return Inner!.Change(dueTime, period);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        Inner?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"due {DueTime} (next {DueAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "never"}, fired {Fired})";

    internal void OnFired()
    {
        lock (_gate)
        {
            _fired++;
            _dueAt = _period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero ? null : _dueAt + _period;
        }
    }

    private void Arm(TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _period = period;
            _dueAt = dueTime == Timeout.InfiniteTimeSpan ? null : _clock.GetUtcNow() + dueTime;
        }
    }
}
