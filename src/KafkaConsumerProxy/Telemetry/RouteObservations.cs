using System.Collections.Concurrent;

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
/// <param name="Lag">What the group still has to finish, computed where the view is made (<c>PartitionOffsets.Lag</c>).</param>
internal sealed record PartitionView(
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
    bool WaitingForCommit = false,
    long Lag = 0)
{
    /// <summary>
    /// The record timestamp (Unix ms) the partition's time lag runs from: the oldest unfinished message's, or while the
    /// partition is behind with nothing unfinished the last fetched one's; -1 when caught up (lag 0) or unknown.
    /// </summary>
    public long LagFromMs { get; init; } = -1;
}

/// <summary>
/// What the admin endpoint and the metrics show of the running routes beyond their supervisor state: every owned
/// partition's offsets and lag, the delivery rate, whether a member joined its group. Written by the members and the
/// deliverer, read by the API and the metrics; thread-safe. The operator's controls are not here: the messages being
/// retried are in <c>Delivery/FailingMessages</c>, seeks in <c>Consuming/SeekRegistry</c>.
/// </summary>
internal sealed class RouteObservations(TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Route, int Partition), PartitionView> _partitions = new();
    private readonly ConcurrentDictionary<string, Totals> _totals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Route, int Member), bool> _joined = new();

    /// <summary>Each route's lag as read from the broker for every partition of its topic (the lag the API and the metrics show).</summary>
    public GroupLags GroupLags { get; } = new();

    /// <summary>Each route's delivered and failed rates and lag over the last <see cref="RouteHistory.Window"/>, sampled by <see cref="SampleHistory"/>.</summary>
    public RouteHistory History { get; } = new(time.GetUtcNow());

    /// <summary>
    /// <paramref name="route"/>'s lag: as read from the broker for every partition of the group, or the members' own
    /// until it is read (<c>total_lag</c> of the routes API).
    /// </summary>
    public long TotalLag(string route) => GroupLags.Of(route)?.Total ?? Partitions(route).Sum(p => p.Lag);

    /// <summary>Adds a sample of each of <paramref name="routes"/> to <see cref="History"/> (every <see cref="RouteHistory.Step"/>).</summary>
    public void SampleHistory(IEnumerable<string> routes)
    {
        var now = time.GetUtcNow();
        foreach (var route in routes)
        {
            var totals = _totals.GetValueOrDefault(route);
            History.Add(route, now, totals?.Delivered.Total ?? 0, totals?.Failed ?? 0, TotalLag(route));
        }
    }

    /// <summary><paramref name="route"/>'s history, oldest first, ending with the interval running now (<see cref="RouteHistory.Points"/>).</summary>
    public IReadOnlyList<HistoryPoint> HistoryOf(string route)
    {
        var totals = _totals.GetValueOrDefault(route);
        return History.Points(route, time.GetUtcNow(), totals?.Delivered.Total ?? 0, totals?.Failed ?? 0, TotalLag(route));
    }

    /// <summary>Messages of <paramref name="route"/> delivered per second over the last minute (less since kcp started).</summary>
    public double DeliveredPerSecond(string route) => _totals.TryGetValue(route, out var totals) ? totals.Delivered.Rate(time.GetUtcNow()) : 0;

    /// <summary>True when at least one member of <paramref name="route"/> has joined its group (received an assignment, maybe empty).</summary>
    public bool HasJoined(string route) => _joined.Keys.Any(k => k.Route == route);

    /// <summary>A message of <paramref name="route"/> was delivered: one lookup, a clock read and an increment, and once a second a sample.</summary>
    internal void CountDelivered(string route) => _totals.GetOrAdd(route, _ => new Totals()).Delivered.Add(time.GetUtcNow());

    /// <summary>A delivery attempt of one message of <paramref name="route"/> failed.</summary>
    internal void CountFailed(string route) => Interlocked.Increment(ref _totals.GetOrAdd(route, _ => new Totals()).Failed);

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

    internal void Publish(PartitionView view) => _partitions[(view.Route, view.Partition)] = view;

    /// <summary>A member no longer owns <paramref name="partition"/> (revoked, or the member stopped).</summary>
    internal void Unpublish(string route, int partition, int member)
    {
        if (_partitions.TryGetValue((route, partition), out var view) && view.Member == member)
        {
            _partitions.TryRemove(new KeyValuePair<(string, int), PartitionView>((route, partition), view));
        }
    }

    /// <summary>Drops everything of <paramref name="route"/> (it was removed by a reload).</summary>
    internal void Forget(string route)
    {
        foreach (var key in _partitions.Keys.Where(k => k.Route == route))
        {
            _partitions.TryRemove(key, out _);
        }

        History.Forget(route);
        _totals.TryRemove(route, out _);
    }

    /// <summary>A route's counts since kcp started, for <see cref="History"/>; its delivered ones with their rate.</summary>
    private sealed class Totals
    {
        public readonly RateWindow Delivered = new();
        public long Failed;
    }
}

/// <summary>
/// A total with samples (at most one a second) of the last minute, for a rate. Counting runs for every delivered
/// message, from every partition's thread: it is an increment and a comparison with when the next sample is due; only
/// that sample, once a second, takes the lock.
/// </summary>
internal sealed class RateWindow
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);

    // Samples are at least a Step apart and only the newest one older than the Window is kept before the others, so
    // at most Window / Step + 2 are held.
    private const int Capacity = 64;
    private readonly Lock _gate = new();
    private readonly (DateTimeOffset At, long Total)[] _samples = new (DateTimeOffset, long)[Capacity];
    private int _first;
    private int _count;
    private long _total;

    // UtcTicks from which the next Add samples; before the first sample, at once.
    private long _sampleDue = long.MinValue;

    /// <summary>Everything counted so far.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Add(DateTimeOffset now)
    {
        Interlocked.Increment(ref _total);
        if (now.UtcTicks < Volatile.Read(ref _sampleDue))
        {
            return;
        }

        lock (_gate)
        {
            Sample(now);
        }
    }

    public double Rate(DateTimeOffset now)
    {
        lock (_gate)
        {
            Sample(now);
            var (at, total) = Nth(0);
            var span = (now - at).TotalSeconds;
            return span <= 0 ? 0 : (Total - total) / Math.Min(span, Window.TotalSeconds + Step.TotalSeconds);
        }
    }

    // Under _gate.
    private void Sample(DateTimeOffset now)
    {
        if (_count == 0)
        {
            // The base: nothing counted before the window was made (at the first message).
            Append((now, 0));
        }
        else if (now - Nth(_count - 1).At >= Step)
        {
            Append((now, Total));
        }

        while (_count > 1 && now - Nth(1).At >= Window)
        {
            _first = (_first + 1) % Capacity;
            _count--;
        }

        Volatile.Write(ref _sampleDue, (Nth(_count - 1).At + Step).UtcTicks);
    }

    private (DateTimeOffset At, long Total) Nth(int i) => _samples[(_first + i) % Capacity];

    private void Append((DateTimeOffset At, long Total) sample)
    {
        if (_count == Capacity)
        {
            // Only with a clock that jumps: the oldest goes.
            _first = (_first + 1) % Capacity;
            _count--;
        }

        _samples[(_first + _count) % Capacity] = sample;
        _count++;
    }
}
