namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The in-flight limit of <c>adaptive_concurrency: true</c>: additive increase, multiplicative decrease (AIMD, as TCP
/// congestion control and Netflix's concurrency-limits AIMD limit), between 1 and an upper bound.
/// <list type="bullet">
/// <item>It starts at 1 and doubles per round of answers (+1 per success) until the first sign of overload (slow start).</item>
/// <item>After that, each success adds 1/limit: +1 per round of answers.</item>
/// <item>An overload answer (429, 503, a timeout) or a latency far above the lowest seen (more than twice it plus
/// <see cref="LatencyTolerance"/>) multiplies the limit by <see cref="DecreaseFactor"/>, at most once per round: the
/// answers to requests sent before the last decrease do not decrease it again, so a burst of 503s to requests that
/// were already in flight counts once.</item>
/// <item>Other failures (500, refused connections, rejected bodies) leave it as it is: they say nothing about load.</item>
/// </list>
/// The limit is applied through a semaphore that holds back permits when it shrinks, so requests already in flight are
/// never cut. Thread-safe.
/// </summary>
internal sealed class AdaptiveConcurrencyLimit : IDisposable
{
    /// <summary>0.8: a decrease takes a fifth off, so the limit settles just under what the endpoint takes.</summary>
    public const double DecreaseFactor = 0.8;

    /// <summary>20 ms: latency noise (GC pauses, a busy machine) below this never counts as rising latency.</summary>
    public static readonly TimeSpan LatencyTolerance = TimeSpan.FromMilliseconds(20);

    // The lowest latency is forgotten after this many answers, so a baseline from a quiet time does not stay forever.
    private const int LatencyWindow = 500;

    private readonly SemaphoreSlim _permits;
    private readonly Lock _lock = new();
    private readonly int _max;
    private readonly Action<int, int>? _changed;
    private double _limit = 1;
    private int _granted = 1;
    private int _debt;
    private bool _slowStart = true;
    private long _sequence;
    private long _decreasedAt;
    private TimeSpan _minLatency = TimeSpan.MaxValue;
    private TimeSpan _windowMin = TimeSpan.MaxValue;
    private int _windowCount;

    /// <param name="max">The upper bound (at least 1).</param>
    /// <param name="changed">Called with (old, new) under no lock whenever the whole-number limit changes.</param>
    public AdaptiveConcurrencyLimit(int max, Action<int, int>? changed = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        _max = max;
        _changed = changed;
        _permits = new SemaphoreSlim(1, max);
    }

    /// <summary>The current limit of requests in flight, from 1 to the upper bound.</summary>
    public int Current => Volatile.Read(ref _granted);

    /// <summary>The upper bound.</summary>
    public int Max => _max;

    /// <summary>Waits for room under the limit; returns the ticket to give to <see cref="Release"/>.</summary>
    public async ValueTask<long> AcquireAsync(CancellationToken cancel)
    {
        await _permits.WaitAsync(cancel).ConfigureAwait(false);
        return Interlocked.Increment(ref _sequence);
    }

    /// <summary>Gives back the room of <paramref name="ticket"/> and adapts the limit to how the request went.</summary>
    public void Release(long ticket, DeliveryResult result)
    {
        int before, after;
        lock (_lock)
        {
            before = _granted;
            var overload = result.Outcome == DeliveryOutcome.Timeout
                || result.StatusCode is 429 or 503
                || (result.IsSuccess && LatencyRose(result.Elapsed));
            if (overload)
            {
                if (ticket > _decreasedAt)
                {
                    _slowStart = false;
                    _limit = Math.Max(1, _limit * DecreaseFactor);
                    _decreasedAt = Interlocked.Read(ref _sequence);
                }
            }
            else if (result.IsSuccess)
            {
                _limit = Math.Min(_max, _limit + (_slowStart ? 1 : 1 / _limit));
            }

            if (_debt > 0)
            {
                _debt--;
            }
            else
            {
                _permits.Release();
            }

            Apply((int)Math.Floor(_limit));
            after = _granted;
        }

        if (after != before)
        {
            _changed?.Invoke(before, after);
        }
    }

    // Under _lock. Gives or holds back permits so that permits out + free - debt = the new limit.
    private void Apply(int limit)
    {
        limit = Math.Clamp(limit, 1, _max);
        if (limit > _granted)
        {
            var more = limit - _granted;
            var repaid = Math.Min(more, _debt);
            _debt -= repaid;
            if (more > repaid)
            {
                _permits.Release(more - repaid);
            }
        }
        else if (limit < _granted)
        {
            _debt += _granted - limit;
            while (_debt > 0 && _permits.Wait(0))
            {
                _debt--;
            }
        }

        _granted = limit;
    }

    // Under _lock. Latency counts as risen when far above the lowest of the current or the previous window.
    private bool LatencyRose(TimeSpan latency)
    {
        if (latency < _windowMin)
        {
            _windowMin = latency;
        }

        if (++_windowCount >= LatencyWindow)
        {
            _minLatency = _windowMin;
            _windowMin = TimeSpan.MaxValue;
            _windowCount = 0;
        }

        var baseline = _minLatency < _windowMin ? _minLatency : _windowMin;
        return latency > (baseline * 2) + LatencyTolerance;
    }

    public void Dispose() => _permits.Dispose();
}
