using System.Globalization;
using System.Threading.Channels;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Fleet;

/// <summary>
/// The fleet's control plane through Kafka (the <c>fleet</c> section): one <see cref="ControlTopic"/> per cluster that
/// routes use. An operator's pause, resume, stop or start given to any instance is written there and applied by every
/// instance in the topic's order (<see cref="RouteRegistry.ApplyIntentAsync"/>, which keeps routes.json as the local
/// fallback), including instances that start later; a skip or retry goes to the partition's owner
/// (<see cref="FleetPartitions"/>), and so does a seek of one partition (<see cref="FleetSeeks"/>); each instance writes its status every <c>heartbeat_ms</c> (<see cref="FleetView"/>)
/// and every action's audit entry.
/// </summary>
internal sealed class FleetControl : IAsyncDisposable
{
    /// <summary>How long a start waits for the control topics to be read to their end before the routes start anyway.</summary>
    public static readonly TimeSpan CatchUpPatience = TimeSpan.FromSeconds(15);

    /// <summary>How long an action waits for its own intent to be read back and applied here.</summary>
    public static readonly TimeSpan ApplyPatience = TimeSpan.FromSeconds(30);

    private const int AuditKept = 1000;

    private readonly FleetSettings _settings;
    private readonly RouteRegistry _registry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, ControlTopic> _topics = new(StringComparer.Ordinal);
    private readonly Channel<(string Cluster, ConsumeResult<string?, byte[]?> Record, bool CatchingUp)> _records =
        Channel.CreateUnbounded<(string, ConsumeResult<string?, byte[]?>, bool)>();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _applied = new(StringComparer.Ordinal);
    private readonly HashSet<string> _problemsLogged = new(StringComparer.Ordinal);
    private readonly LinkedList<AuditEntry> _audit = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _applier = Task.CompletedTask;
    private Task _beating = Task.CompletedTask;
    private int _intentsAtStart;
    private bool _started;

    public FleetControl(KcpConfig config, RouteRegistry registry, ILogger logger, TimeProvider time)
    {
        _settings = config.Fleet;
        _registry = registry;
        _logger = logger;
        _time = time;
        var started = time.GetUtcNow();
        Self = new InstanceStatus(string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{Environment.ProcessId}:{started.ToUnixTimeMilliseconds()}"),
            Environment.MachineName, Environment.ProcessId, started, TelemetryResource.Version, false, []);
        View = new FleetView(_settings.GoneAfter, TimeSpan.FromMilliseconds(_settings.HeartbeatMs), time);
        Partitions = new FleetPartitions(this, registry, logger, time);
        Seeks = new FleetSeeks(this, registry, logger, time);
        foreach (var cluster in config.Routes.Select(r => r.Cluster).Distinct(StringComparer.Ordinal))
        {
            if (config.Clusters.TryGetValue(cluster, out var definition))
            {
                ControlTopic? topic = null;
                topic = new ControlTopic(definition, _settings.ControlTopic, r => _records.Writer.TryWrite((cluster, r, !topic!.CaughtUp.IsCompleted)), logger);
                _topics[cluster] = topic;
            }
        }
    }

    /// <summary>This instance: host, pid, start time, version (its routes are filled in each heartbeat).</summary>
    public InstanceStatus Self { get; }

    public string InstanceId => Self.Id;

    /// <summary>The other instances, from their heartbeats.</summary>
    public FleetView View { get; }

    /// <summary>Skips and retries of partitions whatever instance owns them.</summary>
    public FleetPartitions Partitions { get; }

    /// <summary>Seeks of one partition whatever instance owns it.</summary>
    public FleetSeeks Seeks { get; }

    /// <summary>The audit trail of the whole fleet, oldest first.</summary>
    public IReadOnlyList<AuditEntry> AuditTrail
    {
        get
        {
            lock (_gate)
                return [.. _audit];
        }
    }

    /// <summary>Why the control topic of <paramref name="cluster"/> cannot be used now, naming it; null when it can.</summary>
    public string? Unavailable(string cluster) =>
        !_topics.TryGetValue(cluster, out var topic) ? $"cluster {cluster} has no control topic in this kcp (restart kcp after adding a cluster)"
        : topic.Unavailable is { } why ? $"{topic.Name} cannot be used: {why}" : null;

    /// <summary>Why the fleet view is incomplete now (every unusable control topic); null when it is not.</summary>
    public string? Unavailable() =>
        _topics.Keys.Select(Unavailable).Where(u => u is not null).ToList() is { Count: > 0 } all ? string.Join("; ", all) : null;

    /// <summary>
    /// Creates and reads the control topics, and applies the intents found there (to routes.json, which the routes'
    /// start reads), waiting at most <see cref="CatchUpPatience"/>; then starts the heartbeats. Never throws: a topic
    /// that cannot be used is logged and shown as unavailable.
    /// </summary>
    public async Task<FleetControl> StartAsync()
    {
        _applier = Task.Run(ApplyAllAsync);
        foreach (var topic in _topics.Values)
            topic.Start();
        var caughtUp = Task.WhenAll(_topics.Values.Select(t => t.CaughtUp));
        if (await Task.WhenAny(caughtUp, Task.Delay(CatchUpPatience, _time)).ConfigureAwait(false) != caughtUp)
            Log.FleetCatchUpSlow(_logger, (int)CatchUpPatience.TotalSeconds);
        else
            await DrainedAsync(CatchUpPatience).ConfigureAwait(false);
        Log.FleetJoined(_logger, InstanceId, string.Join(", ", _topics.Select(t => t.Value.Name)), _intentsAtStart);
        lock (_gate)
            _started = true;
        _beating = Task.Run(BeatAsync);
        return this;
    }

    /// <summary>
    /// Writes the intents of <paramref name="action"/> on the selected routes to their control topics and waits until
    /// this instance has read them back and applied them (every other instance applies them as it reads them). A
    /// restart is a start fleet-wide (the stop is withdrawn) and a restart of this instance's members.
    /// </summary>
    /// <exception cref="FleetUnavailableException">A control topic cannot be used; nothing was applied by this call.</exception>
    public async Task<RouteOperationResult> OperateAsync(RouteAction action, RouteSelector selector, string who)
    {
        var (selected, error) = _registry.Select(selector);
        if (error is not null)
            return new RouteOperationResult(action, [], error);
        foreach (var cluster in selected.Select(s => s.Route.Cluster).Distinct(StringComparer.Ordinal))
        {
            if (Unavailable(cluster) is { } why)
                throw new FleetUnavailableException(why);
        }

        var written = new List<(string Cluster, long Offset)>();
        foreach (var route in selected.Select(s => s.Route))
        {
            var (what, paused, stopped) = action switch
            {
                RouteAction.Pause => ("pause", (bool?)true, (bool?)null),
                RouteAction.Resume => ("pause", false, null),
                RouteAction.Stop => ("stop", null, true),
                _ => ("stop", null, false),
            };
            var record = new ControlRecord
            {
                Type = ControlRecord.RouteIntent, Instance = InstanceId, By = who, At = _time.GetUtcNow(), Route = route.Name, Group = route.Group, Paused = paused, Stopped = stopped,
            };
            written.Add((route.Cluster, await _topics[route.Cluster].WriteAsync(ControlKeys.RouteIntent(route.Group, route.Name, what), record.ToBytes()).ConfigureAwait(false)));
        }

        foreach (var (cluster, offset) in written)
        {
            if (!await AppliedAsync(cluster, offset, ApplyPatience).ConfigureAwait(false))
                throw new FleetUnavailableException($"{_topics[cluster].Name}: the intent was written (offset {offset}) but not read back within {ApplyPatience.TotalSeconds:0} s; every instance applies it once it reads it");
        }

        if (action == RouteAction.Restart)
            return await _registry.OperateAsync(action, selector, who).ConfigureAwait(false);
        return new RouteOperationResult(action, [.. selected.Select(s => s.Status())], null);
    }

    /// <summary>Writes one record to <paramref name="cluster"/>'s control topic; returns its offset.</summary>
    internal Task<long> WriteAsync(string cluster, string key, ControlRecord? record) =>
        _topics.TryGetValue(cluster, out var topic) ? topic.WriteAsync(key, record?.ToBytes()) : throw new FleetUnavailableException(Unavailable(cluster)!);

    /// <summary>Writes an action's audit entry to every control topic (best effort: the local audit.jsonl has it too).</summary>
    public void Audit(string who, string method, string path, int status)
    {
        var entry = new AuditEntry(_time.GetUtcNow(), InstanceId, who, method, path, status, status is >= 200 and < 300 ? "done" : "refused");
        var record = new ControlRecord { Type = ControlRecord.Audit, Instance = InstanceId, Entry = entry };
        foreach (var (cluster, topic) in _topics)
        {
            if (topic.Unavailable is null)
                _ = WriteQuietlyAsync(cluster, ControlKeys.Audit(Guid.NewGuid().ToString("N")), record);
        }
    }

    /// <summary>Waits until the record at <paramref name="offset"/> of <paramref name="cluster"/>'s control topic has been applied here.</summary>
    internal async Task<bool> AppliedAsync(string cluster, long offset, TimeSpan patience)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            Task progress;
            lock (_gate)
            {
                if (_applied.GetValueOrDefault(cluster, -1) >= offset)
                    return true;
                progress = _progress.Task;
            }

            var left = patience - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
                return false;
            await Task.WhenAny(progress, Task.Delay(left, _time)).ConfigureAwait(false);
        }
    }

    private async Task DrainedAsync(TimeSpan patience)
    {
        var started = _time.GetTimestamp();
        while (_records.Reader.Count > 0 && _time.GetElapsedTime(started) < patience)
            await Task.Delay(TimeSpan.FromMilliseconds(10), _time).ConfigureAwait(false);
    }

    // The one reader of every topic's records: applies them in each topic's order.
    private async Task ApplyAllAsync()
    {
        await foreach (var (cluster, record, catchingUp) in _records.Reader.ReadAllAsync().ConfigureAwait(false))
        {
#pragma warning disable CA1031 // One record that cannot be applied must not stop the others.
            try
            {
                await ApplyAsync(cluster, record, catchingUp).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Ignored(record, "apply", "cannot be applied: " + ex.Message.ReplaceLineEndings(" "));
            }
#pragma warning restore CA1031

            TaskCompletionSource progress;
            lock (_gate)
            {
                if (record.Partition.Value == 0)
                    _applied[cluster] = record.Offset.Value;
                progress = _progress;
                _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            progress.TrySetResult();
        }
    }

    private async Task ApplyAsync(string cluster, ConsumeResult<string?, byte[]?> consumed, bool catchingUp)
    {
        var key = consumed.Message.Key;
        if (key is null || !key.StartsWith(ControlKeys.Prefix, StringComparison.Ordinal))
        {
            Ignored(consumed, "foreign", $"key '{key}' is not kcp's (kcp's start with {ControlKeys.Prefix})");
            return;
        }

        if (consumed.Message.Value is null)
        {
            // A deleted key: a partition intent answered, or an instance's status.
            Partitions.Forget(key);
            Seeks.Forget(key);
            if (key.StartsWith(ControlKeys.Status(""), StringComparison.Ordinal))
                View.Forget(key[ControlKeys.Status("").Length..]);
            return;
        }

        var (record, problem) = ControlRecord.Parse(consumed.Message.Value);
        if (record is null)
        {
            Ignored(consumed, "malformed", problem!);
            return;
        }

        switch (record.Type)
        {
            case ControlRecord.RouteIntent:
                if (catchingUp)
                    _intentsAtStart++;
                var what = record.Paused is { } p ? (p ? "pause" : "resume") : record.Stopped == true ? "stop" : "start";
                await _registry.ApplyIntentAsync(record.Route!, record.Group!, record.Paused, record.Stopped,
                    $"operator {what} (by {record.By} through instance {record.Instance}, control topic offset {consumed.Offset.Value})").ConfigureAwait(false);
                break;
            case ControlRecord.PartitionIntent when record.Action == "seek":
                Seeks.Intent(cluster, key, record, catchingUp);
                break;
            case ControlRecord.PartitionIntent:
                Partitions.Intent(cluster, key, record, catchingUp);
                break;
            case ControlRecord.Result:
                Partitions.Result(record);
                Seeks.Result(record);
                break;
            case ControlRecord.Status:
                if (record.Heartbeat!.Id != InstanceId)
                    View.Update(record.Heartbeat, catchingUp);
                break;
            case ControlRecord.Audit:
                lock (_gate)
                {
                    _audit.AddLast(record.Entry!);
                    if (_audit.Count > AuditKept)
                        _audit.RemoveFirst();
                }

                break;
        }
    }

    // Logged once per kind of problem: a topic full of foreign records must not fill the log.
    private void Ignored(ConsumeResult<string?, byte[]?> record, string kind, string problem)
    {
        lock (_gate)
        {
            if (!_problemsLogged.Add(kind))
                return;
        }

        Log.FleetRecordIgnored(_logger, record.Topic, record.Partition.Value, record.Offset.Value, problem);
    }

    private async Task BeatAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            await BeatOnceAsync(left: false).ConfigureAwait(false);
            Partitions.ApplyPending();
            Seeks.ApplyPending();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_settings.HeartbeatMs), _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task BeatOnceAsync(bool left)
    {
        foreach (var (cluster, topic) in _topics)
        {
            if (topic.StartFailed && !left)
                topic.Start();
            var routes = left ? [] : FleetStatus.Routes(_registry, cluster);
            var record = new ControlRecord { Type = ControlRecord.Status, Instance = InstanceId, At = _time.GetUtcNow(), Heartbeat = Self with { Left = left, Routes = routes } };
            await WriteQuietlyAsync(cluster, ControlKeys.Status(InstanceId), record).ConfigureAwait(false);
        }
    }

    private async Task WriteQuietlyAsync(string cluster, string key, ControlRecord record)
    {
        try
        {
            await _topics[cluster].WriteAsync(key, record.ToBytes()).ConfigureAwait(false);
        }
        catch (FleetUnavailableException)
        {
            // The topic says why (logged once, shown in the API); the next heartbeat tries again.
        }
    }

    /// <summary>Says goodbye (a status marked left), stops the heartbeats and the readers.</summary>
    public async ValueTask DisposeAsync()
    {
        bool started;
        lock (_gate)
            started = _started;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _beating.ConfigureAwait(false);
        if (started)
        {
            try
            {
                await BeatOnceAsync(left: true).WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The others see it gone after three heartbeats instead.
            }
        }
        foreach (var topic in _topics.Values)
            topic.Dispose();
        _records.Writer.TryComplete();
        await _applier.ConfigureAwait(false);
        _stop.Dispose();
    }
}
