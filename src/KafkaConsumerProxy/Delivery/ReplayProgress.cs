using System.Globalization;

namespace KafkaConsumerProxy.Delivery;

/// <summary>Where a range replay is.</summary>
internal enum ReplayState
{
    /// <summary>Planned or delivering.</summary>
    Running,

    /// <summary>Every message of the range was handled; <see cref="ReplayStatus.Failed"/> may still be above 0.</summary>
    Done,

    /// <summary>Stopped by Ctrl-C or a cancel before the end; <see cref="ReplayPartitionStatus.Next"/> is where to resume.</summary>
    Cancelled,

    /// <summary>Could not go on (the cluster, the topic); <see cref="ReplayStatus.Error"/> says why.</summary>
    Error,
}

/// <summary>One partition of a replay: offsets <see cref="Start"/> to <see cref="End"/> (exclusive); <see cref="Next"/> is the first not yet handled.</summary>
internal sealed record ReplayPartitionStatus(int Partition, long Start, long End, long Next);

/// <summary>A replay as the API and <c>kcp replay --json</c> show it.</summary>
internal sealed record ReplayStatus(
    string Id,
    string Route,
    string Topic,
    ReplayState State,
    string Target,
    bool DryRun,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    long Total,
    long Sent,
    long Accepted,
    long Failed,
    long Skipped,
    long OutsideTimeRange,
    IReadOnlyList<ReplayPartitionStatus> Partitions,
    string? Error,
    string? By);

/// <summary>
/// The live counts of one replay, written by its delivery loop and read by any thread (the CLI's progress bar, the API).
/// <c>sent</c>: messages sent to the endpoint (at least one attempt); <c>accepted</c>: the endpoint accepted them;
/// <c>failed</c>: given up on after the route's retries (recorded in <c>{state_dir}/replay/skipped.jsonl</c>);
/// <c>skipped</c>: the endpoint's answer asked for it (a status of the route's <c>skip_on_status</c>, or <c>Kcp-Action</c>);
/// <c>outside_time_range</c>: read but outside <c>--from-time</c>/<c>--to-time</c>, not sent.
/// </summary>
internal sealed class ReplayProgress
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private ReplayPartitionStatus[] _partitions = [];
    private long _sent, _accepted, _failed, _skipped, _outside;
    private ReplayState _state = ReplayState.Running;
    private DateTimeOffset? _finishedAt;
    private string? _error;

    public ReplayProgress(string id, string route, ReplayRequest request, string target, TimeProvider time, string? by = null)
    {
        Id = id;
        Route = route;
        Request = request;
        Target = target;
        By = by;
        _time = time;
        StartedAt = time.GetUtcNow();
    }

    /// <summary>A new replay id: 12 lower-case hex digits.</summary>
    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));

    public string Id { get; }

    public string Route { get; }

    public ReplayRequest Request { get; }

    /// <summary>The URL the replay sends to (the first of the route's hosts when it sends to the route's endpoint).</summary>
    public string Target { get; }

    public string? By { get; }

    public DateTimeOffset StartedAt { get; }

    public string Topic { get; private set; } = "";

    /// <summary>Cancelled when the replay is asked to stop.</summary>
    public CancellationTokenSource Cancel { get; } = new();

    /// <summary>Done when the replay has ended, whichever way.</summary>
    public Task Finished => _finished.Task;

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ReplayState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public long Failed => Interlocked.Read(ref _failed);

    internal void Planned(string topic, IEnumerable<ReplayPartitionStatus> partitions)
    {
        lock (_gate)
        {
            Topic = topic;
            _partitions = [.. partitions];
        }
    }

    internal void Handled(int partition, long offset)
    {
        lock (_gate)
        {
            var i = Array.FindIndex(_partitions, p => p.Partition == partition);
            if (i >= 0 && offset + 1 > _partitions[i].Next)
            {
                _partitions[i] = _partitions[i] with { Next = Math.Min(offset + 1, _partitions[i].End) };
            }
        }
    }

    /// <summary>A partition with nothing more in range (its last offsets held no message: control records, a compacted tail).</summary>
    internal void Exhausted(int partition)
    {
        lock (_gate)
        {
            var i = Array.FindIndex(_partitions, p => p.Partition == partition);
            if (i >= 0)
            {
                _partitions[i] = _partitions[i] with { Next = _partitions[i].End };
            }
        }
    }

    internal void OnSent() => Interlocked.Increment(ref _sent);

    internal void OnAccepted() => Interlocked.Increment(ref _accepted);

    internal void OnFailed() => Interlocked.Increment(ref _failed);

    internal void OnSkipped() => Interlocked.Increment(ref _skipped);

    internal void OnOutside() => Interlocked.Increment(ref _outside);

    internal void End(ReplayState state, string? error = null)
    {
        lock (_gate)
        {
            if (_state != ReplayState.Running)
            {
                return;
            }

            _state = state;
            _error = error;
            _finishedAt = _time.GetUtcNow();
        }

        _finished.TrySetResult();
    }

    public ReplayStatus Snapshot()
    {
        lock (_gate)
        {
            return new ReplayStatus(Id, Route, Topic, _state, Target, Request.DryRun, StartedAt, _finishedAt, _partitions.Sum(p => p.End - p.Start),
                Interlocked.Read(ref _sent), Interlocked.Read(ref _accepted), Interlocked.Read(ref _failed), Interlocked.Read(ref _skipped), Interlocked.Read(ref _outside),
                [.. _partitions], _error, By);
        }
    }

    /// <summary>The partitions not finished, each as the arguments that replay its rest: <c>--partition P --from-offset N --to-offset M</c> (or the given <c>--to-time</c>).</summary>
    public IReadOnlyList<string> ResumeArguments()
    {
        lock (_gate)
        {
            return [.. _partitions.Where(p => p.Next < p.End).Select(p => Request.ToTime is { } to
                ? string.Create(CultureInfo.InvariantCulture, $"--partition {p.Partition} --from-offset {p.Next} --to-time {to.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'}")
                : string.Create(CultureInfo.InvariantCulture, $"--partition {p.Partition} --from-offset {p.Next} --to-offset {p.End - 1}"))];
        }
    }
}
