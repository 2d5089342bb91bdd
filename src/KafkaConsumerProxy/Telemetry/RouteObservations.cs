using System.Collections.Concurrent;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>One partition as its owning member last saw it (published about once a second from the consume loop).</summary>
/// <param name="NextOffset">The consumer's position: the next offset it fetches; -1 when unknown.</param>
/// <param name="CommittedOffset">The offset this member last committed to the group; -1 when it has committed nothing yet.</param>
/// <param name="HighWatermark">The partition's high watermark from the latest fetch; -1 when unknown.</param>
/// <param name="InFlight">Messages fetched and not yet finished (delivered or skipped).</param>
/// <param name="OldestUnfinishedOffset">The oldest of those, or -1.</param>
/// <param name="OldestUnfinishedSince">When this member first saw that offset unfinished.</param>
public sealed record PartitionView(
    string Route,
    string Topic,
    int Partition,
    int Member,
    long NextOffset,
    long CommittedOffset,
    long HighWatermark,
    int InFlight,
    long OldestUnfinishedOffset,
    DateTimeOffset? OldestUnfinishedSince)
{
    /// <summary>High watermark − committed offset (what the group still has to finish), 0 when unknown.</summary>
    public long Lag => HighWatermark < 0 ? 0 : Math.Max(0, HighWatermark - Math.Max(CommittedOffset, 0));
}

/// <summary>Where a seek moves partitions: an offset (of one partition, or of all), a time, or earliest/latest.</summary>
public sealed record SeekTarget(int? Partition, long? Offset, DateTimeOffset? Timestamp, string? Position);

/// <summary>One partition moved by a seek.</summary>
public sealed record SeekMove(string Topic, int Partition, int Member, long From, long To);

/// <summary>A message being retried: the head of line of its partition (sync) or one of its failing messages (async).</summary>
public sealed record FailingMessage(
    string Route,
    string Topic,
    int Partition,
    long Offset,
    string? Key,
    int Attempts,
    DateTimeOffset FailingSince,
    string LastOutcome,
    int? LastStatus,
    string? LastBody,
    string LastReason);

/// <summary>
/// What the admin endpoint shows of the running routes beyond their supervisor state: every owned partition's offsets
/// and lag, and every message being retried, with the handles that skip it or cut its wait. Written by the members and
/// the deliverer, read by the API and the metrics; thread-safe.
/// </summary>
public sealed class RouteObservations
{
    private readonly ConcurrentDictionary<(string Route, int Partition), PartitionView> _partitions = new();
    private readonly ConcurrentDictionary<(string Route, int Partition, long Offset), FailingEntry> _failing = new();

    private readonly ConcurrentDictionary<string, RateWindow> _delivered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Route, int Member), bool> _joined = new();
    private readonly ConcurrentDictionary<(string Route, int Member), Func<SeekTarget, Task<IReadOnlyList<SeekMove>>>> _seekers = new();

    /// <summary>Moves the partitions of <paramref name="route"/> that this process owns; the moves made.</summary>
    public async Task<IReadOnlyList<SeekMove>> SeekAsync(string route, SeekTarget target)
    {
        var members = _seekers.Where(s => s.Key.Route == route).Select(s => s.Value(target)).ToList();
        var moved = await Task.WhenAll(members).ConfigureAwait(false);
        return [.. moved.SelectMany(m => m).OrderBy(m => m.Partition)];
    }

    internal void RegisterSeeker(string route, int member, Func<SeekTarget, Task<IReadOnlyList<SeekMove>>> seek) => _seekers[(route, member)] = seek;

    internal void UnregisterSeeker(string route, int member) => _seekers.TryRemove((route, member), out _);

    /// <summary>Messages of <paramref name="route"/> delivered per second over the last minute (less since kcp started).</summary>
    public double DeliveredPerSecond(string route) => _delivered.TryGetValue(route, out var w) ? w.Rate(DateTimeOffset.UtcNow) : 0;

    /// <summary>True when at least one member of <paramref name="route"/> has joined its group (received an assignment, maybe empty).</summary>
    public bool HasJoined(string route) => _joined.Keys.Any(k => k.Route == route);

    internal void CountDelivered(string route) => _delivered.GetOrAdd(route, _ => new RateWindow()).Add(DateTimeOffset.UtcNow);

    internal void SetJoined(string route, int member, bool joined)
    {
        if (joined)
        {
            _joined[(route, member)] = true;
        }
        else
        {
            _joined.TryRemove((route, member), out _);
        }
    }

    /// <summary>Every partition owned by a member in this process.</summary>
    public IReadOnlyList<PartitionView> Partitions(string? route = null) =>
        [.. _partitions.Values.Where(p => route is null || p.Route == route).OrderBy(p => p.Route, StringComparer.Ordinal).ThenBy(p => p.Partition)];

    /// <summary>Every message being retried now.</summary>
    public IReadOnlyList<FailingMessage> Failing(string? route = null) =>
        [.. _failing.Values.Select(e => e.Snapshot()).Where(f => route is null || f.Route == route).OrderBy(f => f.Route, StringComparer.Ordinal).ThenBy(f => f.Partition).ThenBy(f => f.Offset)];

    internal void Publish(PartitionView view) => _partitions[(view.Route, view.Partition)] = view;

    /// <summary>A member no longer owns <paramref name="partition"/> (revoked, or the member stopped).</summary>
    internal void Unpublish(string route, int partition, int member)
    {
        if (_partitions.TryGetValue((route, partition), out var view) && view.Member == member)
        {
            _partitions.TryRemove(new KeyValuePair<(string, int), PartitionView>((route, partition), view));
        }
    }

    /// <summary>Records a failed attempt of <paramref name="record"/>; the entry lives until <see cref="Finished"/>.</summary>
    internal FailingEntry Failed(string route, KafkaRecord record, int attempt, DeliveryResult result, DateTimeOffset now)
    {
        var entry = _failing.GetOrAdd((route, record.Partition, record.Offset), _ => new FailingEntry(route, record, now));
        entry.Update(attempt, result);
        return entry;
    }

    internal void Finished(FailingEntry? entry)
    {
        if (entry is not null)
        {
            _failing.TryRemove(new KeyValuePair<(string, int, long), FailingEntry>((entry.Route, entry.Record.Partition, entry.Record.Offset), entry));
        }
    }

    /// <summary>The failing entry of that message, if it is being retried now.</summary>
    internal FailingEntry? Find(string route, int partition, long offset) => _failing.TryGetValue((route, partition, offset), out var e) ? e : null;

    /// <summary>Drops everything of <paramref name="route"/> (it was removed by a reload).</summary>
    internal void Forget(string route)
    {
        foreach (var key in _partitions.Keys.Where(k => k.Route == route))
        {
            _partitions.TryRemove(key, out _);
        }
    }
}

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

    public FailingEntry(string route, KafkaRecord record, DateTimeOffset since)
    {
        Route = route;
        Record = record;
        _since = since;
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

    public void Update(int attempt, DeliveryResult result)
    {
        lock (_gate)
        {
            _attempts = attempt;
            _last = result;
            if (_retry.IsCancellationRequested)
            {
                _retry = new CancellationTokenSource();
            }
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
                _last.Outcome.ToString(), _last.StatusCode, _last.BodyExcerpt, _last.Describe());
        }
    }
}

/// <summary>A total with samples (at most one a second) of the last minute, for a rate.</summary>
internal sealed class RateWindow
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);
    private readonly Lock _gate = new();
    private readonly Queue<(DateTimeOffset At, long Total)> _samples = new();
    private long _total;

    public void Add(DateTimeOffset now)
    {
        lock (_gate)
        {
            if (_samples.Count == 0)
            {
                // The base: nothing delivered before now.
                _samples.Enqueue((now, 0));
            }

            _total++;
            Sample(now);
        }
    }

    public double Rate(DateTimeOffset now)
    {
        lock (_gate)
        {
            Sample(now);
            var (at, total) = _samples.Peek();
            var span = (now - at).TotalSeconds;
            return span <= 0 ? 0 : (_total - total) / Math.Min(span, Window.TotalSeconds + Step.TotalSeconds);
        }
    }

    // Under _gate.
    private void Sample(DateTimeOffset now)
    {
        if (_samples.Count == 0 || now - _samples.Last().At >= Step)
        {
            _samples.Enqueue((now, _total));
        }

        while (_samples.Count > 1 && now - _samples.ElementAt(1).At >= Window)
        {
            _samples.Dequeue();
        }
    }
}
