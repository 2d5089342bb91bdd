using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Reads each route's lag from the broker on a timer, independently of fetching: for every partition of the route's
/// topic (owned by this process, by another instance or by none, paused or not) the group's committed offset and the
/// partition's watermarks, through a client of its own that never joins the group; lag per partition is
/// <see cref="PartitionOffsets.Lag"/>, as <c>kcp offsets show</c> counts it. Published to <see cref="GroupLags"/>,
/// which the metrics, the API and <c>kcp status</c> read. Each route is read on its own thread with bounded timeouts,
/// so a cluster that does not answer delays neither the others nor any delivery; its last reading stays shown and the
/// failure is logged once until a read succeeds again.
/// </summary>
internal sealed class GroupLagReader : IAsyncDisposable
{
    /// <summary>How often each route's lag is read.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(3);

    /// <summary>The bound of each request to the cluster.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly Func<KcpConfig> _config;
    private readonly GroupLags _sink;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    /// <summary>How long a route that has not joined its group waits for its first read (a route that joins is read an interval after).</summary>
    private static readonly TimeSpan FirstReadPatience = TimeSpan.FromSeconds(30);

    private readonly Func<string, bool>? _joined;
    private readonly Dictionary<string, RouteLag> _routes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <param name="joined">Whether a route's members have joined its group: a route is first read an interval after, so
    /// that the members' own requests at assignment come first; null: read at once.</param>
    public GroupLagReader(Func<KcpConfig> config, GroupLags sink, ILogger logger, TimeProvider time, TimeSpan? interval = null, Func<string, bool>? joined = null)
    {
        _joined = joined;
        _config = config;
        _sink = sink;
        _logger = logger;
        _time = time;
        _interval = interval ?? DefaultInterval;
    }

    /// <summary>Reads every route of the current configuration now and then every interval, until disposed.</summary>
    public GroupLagReader Start()
    {
        _loop = LoopAsync(_stop.Token);
        return this;
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Tick();
            try
            {
                await Task.Delay(_interval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Starts a read of each route whose previous read has finished; follows reloads (a removed route's reading is
    // dropped, a changed one is read through a new client).
    private void Tick()
    {
        KcpConfig config;
        try
        {
            config = _config();
        }
        catch (InvalidOperationException)
        {
            return;
        }

        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in config.Routes)
        {
            if (!config.Clusters.TryGetValue(route.Cluster, out var cluster))
                continue;
            current.Add(route.Name);
            var settings = ConsumerSettings.Create(route, cluster, member: 0);
            settings.ClientId = $"kcp-{route.Name}-lag";
            settings.GroupInstanceId = null;
            var identity = string.Join("\n", settings.Select(kv => kv.Key + "=" + kv.Value)) + "\n" + route.Topic;
            if (_routes.TryGetValue(route.Name, out var known) && known.Identity != identity)
            {
                if (!known.Busy)
                {
                    known.Dispose();
                    _sink.Forget(route.Name);
                    _routes.Remove(route.Name);
                }

                continue;
            }

            if (!_routes.TryGetValue(route.Name, out var lag))
            {
                lag = new RouteLag(route.Name, route.Topic, route.Group, identity, settings, _sink, _logger, _time);
                _routes[route.Name] = lag;
            }

            if (!lag.Started)
            {
                if (_joined is null || lag.JoinSeen || _time.GetElapsedTime(lag.FirstSeen) >= FirstReadPatience)
                {
                    lag.Started = true;
                }
                else
                {
                    lag.JoinSeen = _joined(route.Name);
                    continue;
                }
            }

            lag.ReadInBackground();
        }

        foreach (var gone in _routes.Where(r => !current.Contains(r.Key) && !r.Value.Busy).Select(r => r.Key).ToList())
        {
            _routes[gone].Dispose();
            _routes.Remove(gone);
            _sink.Forget(gone);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        foreach (var lag in _routes.Values)
        {
            // A read in progress is not waited for (it may be waiting on a cluster that does not answer): its client
            // is disposed when it ends, on its own background thread.
            lag.DisposeWhenIdle();
        }

        _routes.Clear();
        _stop.Dispose();
    }

    /// <summary>One route's client: a consumer that never subscribes (committed offsets, watermarks) and an admin client over its handle (the topic's partitions).</summary>
    private sealed class RouteLag(string route, string topic, string group, string identity, ConsumerConfig settings, GroupLags sink, ILogger logger, TimeProvider time) : IDisposable
    {
        private IConsumer<Ignore, Ignore>? _consumer;
        private IAdminClient? _admin;
        private Task _read = Task.CompletedTask;
        private bool _failing;

        public long FirstSeen { get; } = time.GetTimestamp();

        public bool JoinSeen { get; set; }

        public bool Started { get; set; }

        public string Identity => identity;

        public bool Busy => !_read.IsCompleted;

        public void ReadInBackground()
        {
            if (Busy)
                return;
            // A thread of its own: the client's calls block for up to RequestTimeout each.
            _read = Task.Factory.StartNew(Read, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public void DisposeWhenIdle() => _read.ContinueWith(_ => Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

        private void Read()
        {
            try
            {
                _consumer ??= new ConsumerBuilder<Ignore, Ignore>(settings).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
                _admin ??= new DependentAdminClientBuilder(_consumer.Handle).Build();
                var metadata = _admin.GetMetadata(topic, RequestTimeout).Topics.Single();
                if (metadata.Error.IsError)
                    throw new KafkaException(metadata.Error);
                var partitions = metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();
                var committed = _consumer.Committed(partitions, RequestTimeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
                var rows = partitions.Select(p =>
                {
                    var marks = _consumer.QueryWatermarkOffsets(p, RequestTimeout);
                    var c = committed.GetValueOrDefault(p.Partition.Value, Offset.Unset);
                    var at = c.IsSpecial ? -1 : c.Value;
                    return new GroupPartitionLag(p.Partition.Value, marks.Low.Value, marks.High.Value, at, PartitionOffsets.Lag(marks.Low.Value, marks.High.Value, at));
                }).ToList();
                sink.Publish(route, new GroupLagReading(topic, group, time.GetUtcNow(), rows));
                if (_failing)
                {
                    _failing = false;
                    Log.LagReadable(logger, route, group, topic);
                }
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException or ArgumentException)
            {
                if (!_failing)
                {
                    _failing = true;
                    Log.LagUnreadable(logger, route, group, topic, ConsumerSettings.Scrub(ex.Message.ReplaceLineEndings(" "), settings));
                }
            }
        }

        public void Dispose()
        {
            _admin?.Dispose();
            _consumer?.Dispose();
            _admin = null;
            _consumer = null;
        }
    }
}
