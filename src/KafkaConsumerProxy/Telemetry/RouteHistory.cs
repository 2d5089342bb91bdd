namespace KafkaConsumerProxy.Telemetry;

/// <summary>One point of a route's history: the rates over the interval that ends at <paramref name="At"/>, and the lag then.</summary>
/// <param name="DeliveredPerSecond">Messages delivered per second over the interval (this process's members).</param>
/// <param name="FailedPerSecond">Failed attempts per second over the interval (one per message of a failed batch, as <c>kcp.delivery.failures</c>).</param>
/// <param name="Lag">The route's lag at <paramref name="At"/> (as <c>total_lag</c> of the routes API).</param>
internal sealed record HistoryPoint(DateTimeOffset At, double DeliveredPerSecond, double FailedPerSecond, long Lag);

/// <summary>
/// Every route's recent history for the dashboard's sparklines (<c>GET /api/v1/routes/{route}/history</c>): a ring of
/// <see cref="Capacity"/> samples per route, one each <see cref="Step"/>, so <see cref="Window"/> in memory and nothing
/// on disk (a restarted kcp starts a new history). A sample holds the route's totals; rates are the difference of two
/// samples over their interval. Thread-safe.
/// </summary>
internal sealed class RouteHistory
{
    /// <summary>How often every route is sampled. The default value is 10 seconds.</summary>
    public static readonly TimeSpan Step = TimeSpan.FromSeconds(10);

    /// <summary>How far back the history reaches. The default value is 15 minutes.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    /// <summary>Samples kept per route: <see cref="Window"/> / <see cref="Step"/> (90).</summary>
    public static readonly int Capacity = (int)(Window / Step);

    private readonly Dictionary<string, Ring> _routes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Sample _origin;

    /// <param name="start">When the totals were zero: the first sample's rates run from there.</param>
    public RouteHistory(DateTimeOffset start) => _origin = new Sample(start, 0, 0, 0);

    /// <summary>Records <paramref name="route"/>'s totals and lag at <paramref name="at"/>.</summary>
    public void Add(string route, DateTimeOffset at, long delivered, long failed, long lag)
    {
        lock (_gate)
        {
            if (!_routes.TryGetValue(route, out var ring))
            {
                ring = _routes[route] = new Ring(Capacity);
            }

            ring.Add(new Sample(at, delivered, failed, lag));
        }
    }

    /// <summary>
    /// <paramref name="route"/>'s points, oldest first: one per sample, and a last one for <paramref name="now"/> from the
    /// totals given (the interval still running), so that a history just begun has two points to draw.
    /// </summary>
    public IReadOnlyList<HistoryPoint> Points(string route, DateTimeOffset now, long delivered, long failed, long lag)
    {
        List<Sample> samples;
        lock (_gate)
        {
            samples = _routes.TryGetValue(route, out var ring) ? ring.ToList() : [];
        }

        // The first kept sample's rates run from the one the ring dropped before it, unknown: it only gives the start.
        var points = new List<HistoryPoint>(samples.Count + 1);
        var previous = samples.Count < Capacity ? _origin : null;
        if (samples.Count == 0 || now > samples[^1].At)
        {
            samples.Add(new Sample(now, delivered, failed, lag));
        }

        foreach (var sample in samples)
        {
            if (previous is not null)
            {
                var seconds = (sample.At - previous.At).TotalSeconds;
                points.Add(new HistoryPoint(sample.At, Rate(sample.Delivered - previous.Delivered, seconds), Rate(sample.Failed - previous.Failed, seconds), sample.Lag));
            }

            previous = sample;
        }

        return points;
    }

    /// <summary>Drops <paramref name="route"/>'s history (the route was removed by a reload).</summary>
    public void Forget(string route)
    {
        lock (_gate)
        {
            _routes.Remove(route);
        }
    }

    private static double Rate(long count, double seconds) => seconds <= 0 ? 0 : Math.Round(Math.Max(0, count) / seconds, 3);

    private sealed record Sample(DateTimeOffset At, long Delivered, long Failed, long Lag);

    /// <summary>The latest samples, at most <c>capacity</c>; the oldest is overwritten.</summary>
    private sealed class Ring(int capacity)
    {
        private readonly Sample[] _items = new Sample[capacity];
        private int _next;
        private int _count;

        public void Add(Sample sample)
        {
            _items[_next] = sample;
            _next = (_next + 1) % _items.Length;
            _count = Math.Min(_count + 1, _items.Length);
        }

        public List<Sample> ToList()
        {
            var list = new List<Sample>(_count);
            for (var i = 0; i < _count; i++)
            {
                list.Add(_items[(_next - _count + i + _items.Length) % _items.Length]);
            }

            return list;
        }
    }
}
