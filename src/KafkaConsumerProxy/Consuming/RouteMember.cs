using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// One member of a route's consumer group, a thin loop over its partitions: the consumer, its blocking poll loop on a
/// dedicated thread, the rebalance callbacks (where <see cref="StartPositionPolicy"/> places each new partition) and one
/// <see cref="PartitionSession"/> per assigned partition, to which each fetched message goes. Rebalance callbacks,
/// commits, what the workers ask (<see cref="WorkerRequests"/>) and the operator's pause and seeks
/// (<see cref="MemberPause"/>, <see cref="MemberSeeks"/>) all run on that thread, so no lock is needed around the
/// consumer or the sessions; the client's errors go to <see cref="ClientReports"/>.
/// </summary>
internal sealed class RouteMember : ISupervisedMember
{
    private readonly RouteDefinition _route;
    private readonly ClusterDefinition _cluster;
    private readonly int _index;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    // Completed when this run's leaving the group outlasts LeaveBound; a new one for each run.
    private TaskCompletionSource _leaveOverdue = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly OffsetCommitter _committer;
    private readonly MemberParts _parts;
    private readonly Dictionary<int, PartitionSession> _sessions = [];

    private readonly LocalOffsetStore _store;
    private readonly ProxyMetrics _metrics;
    private static readonly TimeSpan FinalCommitPatience = TimeSpan.FromSeconds(15);

    // What the workers ask of the loop (fault restarts, fetch pauses at their bounds), and how they are stopped.
    private readonly WorkerRequests _requests = new();
    private readonly WorkerStops _stops;

    // The operator's controls, applied by the consume loop.
    private readonly MemberPause _pause;
    private readonly MemberSeeks _operatorSeeks;
    private volatile int _assignedPartitions;

    // Publishing the partitions' views for the admin endpoint.
    private readonly PartitionViews _views;

    private bool _stopping;

    public RouteMember(RouteDefinition route, ClusterDefinition cluster, int index, MessageDeliverer deliverer, LocalOffsetStore store, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _store = store;
        _metrics = metrics;
        _route = route;
        _cluster = cluster;
        _index = index;
        _logger = logger;
        _time = time;
        Seeks = new SeekRegistry(time);
        var interval = route.Offsets.MessageDeliveryGuarantees == DeliveryGuarantee.BatchedCommit
            ? TimeSpan.FromMilliseconds(route.Offsets.CommitIntervalMs)
            : TimeSpan.FromMilliseconds(RouteDefaults.CoalescedCommitIntervalMs);
        _committer = new OffsetCommitter(route.Name, index, interval, logger, time)
        {
            CommitFailed = () => metrics.OnCommitFailed(route.Name),
            EarlyCommitWanted = () => _sessions.Values.Any(static s => s.Worker.NearUncommittedBound),
        };
        // async_concurrency: requests in flight at once for all partitions of this member; null in sync mode.
        var inFlight = route.Delivery.AsyncConcurrency > 0 ? new SemaphoreSlim(route.Delivery.AsyncConcurrency, route.Delivery.AsyncConcurrency) : null;
        _parts = new MemberParts(route, index, deliverer, inFlight, new PendingBytes(route.Delivery.MaxPendingBytes), _committer, metrics, logger, time, _requests.Faulted, _requests.FetchChanged, () => _pause?.Requested == true);
        _views = new PartitionViews(_parts, metrics.Observations);

        // An attempt in flight may take exec_timeout_ms; a little more covers connection teardown.
        _stops = new WorkerStops(_parts, TimeSpan.FromMilliseconds(route.Endpoint.ExecTimeoutMs) + TimeSpan.FromSeconds(5));
        _pause = new MemberPause(_parts, _stops.Stop);
        _operatorSeeks = new MemberSeeks(_parts, _stops.Stop, AssignmentLookups.LogBoundsTimeout);
    }

    /// <inheritdoc />
    public int AssignedPartitions => _assignedPartitions;

    /// <summary>Where the operator's seeks find this member while it runs; shared by every route of the process. A member
    /// built without one keeps its own.</summary>
    internal SeekRegistry Seeks { get; init; }

    /// <summary>Receives every error the Kafka client reports (for the route's status); called on the consumer thread.</summary>
    public Action<string>? ErrorObserved { get; init; }

    /// <inheritdoc cref="MemberPause"/>
    public Task SetPausedAsync(bool paused) => _pause.SetAsync(paused);

    private RouteObservations Observations => _metrics.Observations;

    /// <summary>
    /// Runs the member until <paramref name="stop"/>; then finishes in-flight work, commits and leaves the group. Ends
    /// without waiting further when leaving the group is stuck for <see cref="LeaveBound"/> (<see cref="Log.LeaveOverdue"/>).
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var overdue = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _leaveOverdue = overdue;
        var running = Task.Factory.StartNew(() =>
        {
            try
            {
                Run(stop);
            }
            finally
            {
                _assignedPartitions = 0;
                _pause.End();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await (await Task.WhenAny(running, overdue.Task).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// How long the stop waits for the Kafka client's close (revoke, leave the group). librdkafka's close can block for
    /// good when the client asks for the rebalance protocol from the revoke it makes while closing (librdkafka issue
    /// 4041); the consume thread is then left blocked and the member's stop goes on without it.
    /// </summary>
    internal static readonly TimeSpan LeaveBound = TimeSpan.FromSeconds(15);

    private void LeaveOverdue()
    {
        Log.LeaveOverdue(_logger, _route.Name, _index, LeaveBound.TotalSeconds);
        _leaveOverdue.TrySetResult();
    }

    private void Run(CancellationToken stop)
    {
        var reports = new ClientReports(_parts, ErrorObserved);
        using var consumer = Build(reports);
        consumer.Subscribe(_route.Topic);
        Seeks.Register(_route.Name, _index, _operatorSeeks.RequestAsync);
        try
        {
            while (!stop.IsCancellationRequested && reports.Fatal is null)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(_requests.NextPollTimeout(_sessions));
                    _requests.Polled(empty: result is null);
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    reports.Report(ex.Error, consume: true);
                    continue;
                }

                if (result is { IsPartitionEOF: false, Message: not null } && _sessions.TryGetValue(result.Partition.Value, out var session))
                {
                    // Messages only come for assigned partitions; one that did not would stay uncommitted.
                    session.Dispatch(consumer, result, _pause.Requested);
                }

                // Also the place, after every poll, where the member's assignment is published for the route's status.
                _assignedPartitions = _sessions.Count;
                _pause.Apply(consumer, _sessions, () => CommitNow(consumer));

                if (_requests.AnyFaulted)
                {
                    _requests.RestartFaulted(consumer, _sessions);
                }

                if (_committer.IsDue)
                {
                    CommitNow(consumer);
                }

                _committer.RetryReleased(consumer);
                if (!_operatorSeeks.IsEmpty)
                {
                    _operatorSeeks.Apply(consumer, _sessions);
                    _views.PublishSoon();
                }

                _views.Publish(consumer, _sessions);
                if (_requests.AnyFetchChanges)
                {
                    // Last before the next poll: a pause a message dispatched above asked for holds before more are fetched.
                    _requests.ApplyFetchChanges(consumer, _sessions);
                }
            }
        }
        finally
        {
            // Stop fetching, let attempts in flight finish, commit what finished, then leave the group. Each step runs
            // even when one before it failed: a fault in one partition must not cost the others their final commit.
            _stopping = true;
            _stops.Step("stopping the partition workers", () => _stops.Stop(_sessions.Values));
            _stops.Step("the final commit", () => CommitBeforeLeaving(consumer, reports));
            _stops.Step("leaving the group", () =>
            {
                using var overdue = _time.CreateTimer(_ => LeaveOverdue(), null, LeaveBound, Timeout.InfiniteTimeSpan);
                try
                {
                    // Revokes what is still assigned (committing it once more if anything moved) and leaves the group.
                    consumer.Close();
                }
                catch (KafkaException ex)
                {
                    Log.KafkaError(_logger, _route.Name, _index, ex.Error.Reason);
                }
            });

            UnpublishAll();
            foreach (var session in _sessions.Values)
            {
                _stops.Step("closing a local offset record", () => session.Offsets.Record?.Dispose());
            }

            _sessions.Clear();

            // Error counts not yet reported are written out now instead of being lost with the member.
            _stops.Step("reporting repeated Kafka client errors", reports.Dispose);
            Log.MemberStopped(_logger, _route.Name, _index);
        }

        if (reports.Fatal is { } fatal)
        {
            throw new InvalidOperationException($"route {_route.Name} member {_index}: fatal Kafka client error: {fatal}");
        }
    }

    /// <summary>
    /// The final commit. A group in the middle of a rebalance refuses commits (REBALANCE_IN_PROGRESS,
    /// ILLEGAL_GENERATION) until this member has rejoined, which happens only while it polls; so poll, without
    /// delivering anything, until the commit goes through or <see cref="FinalCommitPatience"/> has passed.
    /// </summary>
    private void CommitBeforeLeaving(IConsumer<byte[]?, byte[]?> consumer, ClientReports reports)
    {
        var started = _time.GetTimestamp();
        while (!CommitNow(consumer) && reports.Fatal is null && _time.GetElapsedTime(started) < FinalCommitPatience)
        {
            try
            {
                // Messages returned now are not delivered and so never committed: the next owner gets them.
                consumer.Consume(TimeSpan.FromMilliseconds(200));
            }
            catch (ConsumeException ex) when (!ex.Error.IsFatal)
            {
                reports.Report(ex.Error, consume: true);
            }
        }
    }

    private IConsumer<byte[]?, byte[]?> Build(ClientReports reports)
    {
        var config = ConsumerSettings.Create(_route, _cluster, _index);
        IConsumer<byte[]?, byte[]?>? consumer = null;
        var builder = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetLogHandler((_, m) => reports.OnLog(m))
            .SetErrorHandler((_, e) => reports.OnError(e))
            .SetPartitionsAssignedHandler((c, partitions) => OnAssigned(consumer ?? c, partitions))
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(consumer ?? c, partitions, lost: false))
            .SetPartitionsLostHandler((c, partitions) => OnRevoked(consumer ?? c, partitions, lost: true));
        try
        {
            consumer = InjectedFaults.Wrap(_route.Topic, builder.Build());
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"route {_route.Name} ({_route.SourceFile}): invalid Kafka consumer settings: {ConsumerSettings.Scrub(ex.Message, config)}");
        }

        return consumer;
    }

    /// <summary>
    /// Starts a session per new partition where <see cref="StartPositionPolicy"/> says, from the group's committed offset,
    /// the local record, the partition's log bounds and the cluster's id: a record that is not trusted is reported and
    /// discarded; a trusted one filters repeats and may be restored.
    /// </summary>
    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        Observations.SetJoined(_route.Name, _index, true);
        if (_stopping || partitions.Count == 0)
        {
            // Assigned during the final commit: left to the members that stay.
            return partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset));
        }

        var committed = AssignmentLookups.CommittedOffsets(_parts, consumer, partitions);
        var clusterId = AssignmentLookups.ClusterIdOf(_parts, consumer);
        var logs = AssignmentLookups.LogBoundsOf(_parts, consumer, partitions);
        var starts = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            var number = partition.Partition.Value;
            var recordFile = AssignmentLookups.OpenRecord(_parts, _store, new PartitionKey(_cluster.Name, _route.Group, partition.Topic, number), clusterId);

            var committedOffset = committed.GetValueOrDefault(number, Offset.Unset);
            var (bounds, logError) = logs[number];
            var start = StartPositionPolicy.Decide(new StartInputs(
                committedOffset.IsSpecial ? null : committedOffset.Value, recordFile?.Initial, bounds, clusterId,
                _route.Offsets.MessageDeliveryGuarantees, _route.Offsets.UseSavedOffsetTime, _time.GetUtcNow()));
            start.Report(_logger, _route.Name, partition.Topic, number, _cluster.Name, logError);
            if (start.DiscardRecord)
            {
                recordFile?.Discard();
            }

            _sessions[number] = PartitionSession.Start(_parts, partition, recordFile, start,
                committedOffset.IsSpecial ? -1 : committedOffset.Value, bounds?.High ?? -1);
            var from = start.SeekTo is { } at ? new Offset(at) : Offset.Unset;
            starts.Add(new TopicPartitionOffset(partition, from));
            Log.PartitionStart(_logger, _route.Name, partition.Topic, number, Describe(committedOffset), recordFile?.Initial is { } l ? l.LastDone.ToString(CultureInfo.InvariantCulture) + (start.DiscardRecord ? " (ignored)" : "") : "(none)", from.IsSpecial ? "committed offset" : from.Value.ToString(CultureInfo.InvariantCulture));
        }

        Log.PartitionsAssigned(_logger, _route.Name, _index, Describe(partitions));
        _metrics.OnRebalance(_route.Name);
        return starts;
    }

    private static string Describe(Offset offset) => offset.IsSpecial ? "(none)" : offset.Value.ToString(CultureInfo.InvariantCulture);

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions, bool lost)
    {
        var released = new List<PartitionSession>();
        foreach (var partition in partitions)
        {
            if (_sessions.Remove(partition.Partition.Value, out var session))
            {
                released.Add(session);
            }
        }

        _stops.Stop(released);
        foreach (var session in released)
        {
            session.Release();
        }

        try
        {
            // The client keeps a partition's pause across revoke and assign: a partition paused at a bound when it was
            // revoked would never be fetched again if it came back to this member.
            consumer.Resume(partitions.Select(p => p.TopicPartition).ToList());
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(_logger, _route.Name, _index, "could not resume revoked partitions: " + ex.Error.Reason);
        }

        if (lost)
        {
            // The group already gave these partitions away; a commit would be refused and could
            // overwrite the new owner's progress.
            Log.PartitionsLost(_logger, _route.Name, _index, Describe(partitions.Select(p => p.TopicPartition)));
        }
        else
        {
            _committer.CommitReleased(consumer, CommitPositions(released));
            Log.PartitionsRevoked(_logger, _route.Name, _index, Describe(partitions.Select(p => p.TopicPartition)));
        }

        _committer.Forget(partitions.Select(p => p.TopicPartition));
        _metrics.OnRebalance(_route.Name);
    }

    private static string Describe(IEnumerable<TopicPartition> partitions) =>
        string.Join(", ", partitions.Select(p => p.Partition.Value));

    private void UnpublishAll()
    {
        _views.UnpublishAll();
        Observations.SetJoined(_route.Name, _index, false);
        Seeks.Unregister(_route.Name, _index);
        _operatorSeeks.End();
    }

    /// <summary>Commits what the partitions finished and tells each worker what the group now holds for it; false when the commit failed.</summary>
    private bool CommitNow(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (!_committer.CommitNow(consumer, CommitPositions(_sessions.Values)))
        {
            return false;
        }

        foreach (var session in _sessions.Values)
        {
            if (_committer.CommittedOf(session.Number) is { } committed)
            {
                session.Worker.OnCommitted(committed);
            }
        }

        return true;
    }

    private static List<TopicPartitionOffset> CommitPositions(IEnumerable<PartitionSession> sessions) =>
        [.. sessions.Select(s => new TopicPartitionOffset(s.Partition, s.Offsets.CommitPosition))];
}
