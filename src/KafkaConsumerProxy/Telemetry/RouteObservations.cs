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
/// <param name="Uncommitted">Offsets fetched past the last successful commit (what a takeover would repeat).</param>
/// <param name="WaitingForCommit">Fetching is paused at <c>max_uncommitted</c> until a commit succeeds.</param>
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
    DateTimeOffset? OldestUnfinishedSince,
    long Uncommitted = 0,
    bool WaitingForCommit = false)
{
    /// <summary>High watermark − committed offset (what the group still has to finish), 0 when unknown.</summary>
    public long Lag => HighWatermark < 0 ? 0 : Math.Max(0, HighWatermark - Math.Max(CommittedOffset, 0));
}

/// <summary>Where a seek moves partitions: an offset (of one partition, or of all), a time, or earliest/latest.</summary>
/// <param name="Force">True: a seek past unfinished messages records each of them as skipped (kind <c>seek</c>) instead of being refused.</param>
/// <param name="By">Who asked (in skip records and logs).</param>
public sealed record SeekTarget(int? Partition, long? Offset, DateTimeOffset? Timestamp, string? Position, bool Force = false, string? By = null);

/// <summary>One partition moved by a seek.</summary>
/// <param name="From">Where the partition stood: its oldest unfinished offset, else the next offset it fetches.</param>
/// <param name="To">Where it goes on.</param>
/// <param name="Skipped">Unfinished offsets the seek passes (only with force): each gets a skip record of kind <c>seek</c>.</param>
/// <param name="Unread">Offsets between the fetch position and <paramref name="To"/> that were never fetched (a forward seek passes them).</param>
public sealed record SeekMove(string Topic, int Partition, int Member, long From, long To, IReadOnlyList<long> Skipped, long Unread);

/// <summary>A seek that moved nothing: <see cref="Status"/> is the HTTP status of the answer (400, 404, 409, 503).</summary>
public sealed class SeekRefusedException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// What one member would do for a seek, checked on its consumer thread: the moves, or why it refuses. The member then
/// waits for the decision of the whole seek, so that a seek moves every partition or none.
/// </summary>
/// <param name="Owned">The partitions of the route this member owns.</param>
/// <param name="TopicPartitions">The topic's partitions, when a partition was named that this member does not own; else null.</param>
/// <param name="Applied">The moves once made (empty when the seek was refused).</param>
internal sealed record SeekPlan(int Member, IReadOnlyList<int> Owned, IReadOnlyList<SeekMove> Moves, SeekRefusedException? Refusal, IReadOnlyList<int>? TopicPartitions, Task<IReadOnlyList<SeekMove>> Applied);

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
    string LastReason)
{
    /// <summary>Every offset the failing request carries, in order: the message's own, or each of a batch's (shown, skipped and retried with its first).</summary>
    public IReadOnlyList<long> Offsets { get; init; } = [];
}

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
    private readonly ConcurrentDictionary<(string Route, int Member), Func<SeekTarget, Task<bool>, Task<SeekPlan>>> _seekers = new();

    /// <summary>How long the members of a route have to check a seek; a member waits a little longer for the decision.</summary>
    internal static readonly TimeSpan SeekPlanPatience = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Moves the partitions of <paramref name="route"/> that this process owns, all or none: every member first checks
    /// every target (inside the log, no unfinished message passed without force, the partition owned here); only when
    /// all of them agree does any partition move. Throws <see cref="SeekRefusedException"/> when nothing moved.
    /// </summary>
    public async Task<IReadOnlyList<SeekMove>> SeekAsync(string route, SeekTarget target)
    {
        var decision = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var asked = _seekers.Where(s => s.Key.Route == route).Select(s => s.Value(target, decision.Task)).ToList();
            SeekPlan[] plans;
            try
            {
                plans = await Task.WhenAll(asked).WaitAsync(SeekPlanPatience).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new SeekRefusedException(503, $"route {route}: not every member checked the seek within {SeekPlanPatience.TotalSeconds:F0} s; nothing moved");
            }

            if (plans.Select(p => p.Refusal).OfType<SeekRefusedException>().ToList() is { Count: > 0 } refusals)
            {
                throw new SeekRefusedException(refusals.Max(r => r.Status), string.Join("; ", refusals.Select(r => r.Message)) + "; nothing moved");
            }

            var owned = plans.SelectMany(p => p.Owned).Order().ToList();
            if (target.Partition is { } only && !owned.Contains(only))
            {
                var exist = plans.Select(p => p.TopicPartitions).OfType<IReadOnlyList<int>>().FirstOrDefault();
                var mine = owned.Count == 0 ? "none" : string.Join(", ", owned);
                throw new SeekRefusedException(404, exist is not null && !exist.Contains(only)
                    ? $"route {route}: its topic has no partition {only}; its partitions: {string.Join(", ", exist.Order())} (owned by this process: {mine}); nothing moved"
                    : $"route {route}: partition {only} is not owned by this process (it owns: {mine}); seek it where it is owned; nothing moved");
            }

            decision.TrySetResult(true);
            var moved = await Task.WhenAll(plans.Select(p => p.Applied)).ConfigureAwait(false);
            return [.. moved.SelectMany(m => m).OrderBy(m => m.Partition)];
        }
        finally
        {
            // Refused or failed: the members that checked are told to move nothing.
            decision.TrySetResult(false);
        }
    }

    internal void RegisterSeeker(string route, int member, Func<SeekTarget, Task<bool>, Task<SeekPlan>> seek) => _seekers[(route, member)] = seek;

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
    /// <param name="offsets">Every offset of the failing request (a batch's, its first being <paramref name="record"/>'s).</param>
    internal FailingEntry Failed(string route, KafkaRecord record, int attempt, DeliveryResult result, DateTimeOffset now, IReadOnlyList<long> offsets)
    {
        var entry = _failing.GetOrAdd((route, record.Partition, record.Offset), _ => new FailingEntry(route, record, now));
        entry.Update(attempt, result, offsets);
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
    private IReadOnlyList<long> _offsets = [];

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

    public void Update(int attempt, DeliveryResult result, IReadOnlyList<long> offsets)
    {
        lock (_gate)
        {
            _offsets = offsets;
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
                _last.Outcome.ToString(), _last.StatusCode, _last.BodyExcerpt, _last.Describe())
            {
                Offsets = _offsets,
            };
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
