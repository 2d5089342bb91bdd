using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>One message being retried, with the operator's handles on it.</summary>
internal sealed class FailingEntry
{
    private const int BodyExcerptBytes = 512;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _skip = new();
    private readonly DateTimeOffset _since;
    private CancellationTokenSource _retry = new();
    private int _attempts;
    private DeliveryResult _last;
    private IReadOnlyList<long> _offsets;
    private DateTimeOffset? _nextAttempt;

    /// <param name="attempt">The number of the failed attempt the entry is made for.</param>
    /// <param name="first">That attempt's result.</param>
    /// <param name="offsets">Every offset that attempt covered.</param>
    /// <remarks>Complete from the start: the entry is visible to the API as soon as it is added, before any <see cref="Update"/>.</remarks>
    public FailingEntry(string route, KafkaRecord record, DateTimeOffset since, int attempt, DeliveryResult first, IReadOnlyList<long> offsets)
    {
        Route = route;
        Record = record;
        _since = since;
        _attempts = attempt;
        _last = first;
        _offsets = offsets;
    }

    public string Route { get; }

    public KafkaRecord Record { get; }

    /// <summary>Cancelled when an operator skips this message (by API); <see cref="SkippedBy"/> says who.</summary>
    public CancellationToken SkipToken => _skip.Token;

    /// <summary>Who skipped it, once <see cref="SkipToken"/> is cancelled.</summary>
    public string? SkippedBy { get; private set; }

    /// <summary>Cancelled when an operator asks for the next attempt now; renewed at each failure.</summary>
    public CancellationToken RetryToken
    {
        get
        {
            lock (_gate)
            {
                return _retry.Token;
            }
        }
    }

    public void Update(int attempt, DeliveryResult result, IReadOnlyList<long> offsets)
    {
        lock (_gate)
        {
            _offsets = offsets;
            _attempts = attempt;
            _last = result;
            _nextAttempt = null;
            if (_retry.IsCancellationRequested)
            {
                _retry = new CancellationTokenSource();
            }
        }
    }

    /// <summary>
    /// The failed message waits until <paramref name="at"/> before its next attempt (its retry interval, or the
    /// <c>Retry-After</c> it was given); the route's circuit breaker and budgets may hold that attempt longer.
    /// </summary>
    public void Waiting(DateTimeOffset at)
    {
        lock (_gate)
        {
            _nextAttempt = at;
        }
    }

    /// <summary>Skips the message at its next decision; false when it was already asked to be skipped.</summary>
    public bool Skip(string who)
    {
        lock (_gate)
        {
            if (SkippedBy is not null)
            {
                return false;
            }

            SkippedBy = who;
        }

        _skip.Cancel();
        return true;
    }

    /// <summary>Ends the wait before the next attempt.</summary>
    public void RetryNow()
    {
        CancellationTokenSource retry;
        lock (_gate)
        {
            retry = _retry;
        }

        retry.Cancel();
    }

    public FailingMessage Snapshot()
    {
        lock (_gate)
        {
            var key = Record.Key is { } k ? LogText.Escape(k.AsSpan(0, Math.Min(k.Length, BodyExcerptBytes))) : null;
            return new FailingMessage(Route, Record.Topic, Record.Partition, Record.Offset, key, _attempts, _since,
                _last.OutcomeLabel, _last.StatusCode, _last.BodyExcerpt, _last.Describe())
            {
                Offsets = _offsets,
                NextAttemptAt = _nextAttempt,
            };
        }
    }
}
