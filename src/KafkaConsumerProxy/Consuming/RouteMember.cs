using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// One member of a route's consumer group: the consumer, its blocking poll loop on a dedicated thread, the rebalance
/// callbacks and one <see cref="PartitionSession"/> per assigned partition, to which each fetched message goes. Rebalance
/// callbacks, commits, fault restarts and the operator's pause and seeks (<see cref="MemberPause"/>,
/// <see cref="MemberSeeks"/>) all run on that thread, so no lock is needed around the consumer or the sessions.
/// </summary>
internal sealed class RouteMember : ISupervisedMember
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(20);

    // While a partition's fetching is paused at a bound, a completion thread may ask for it to resume, and only this loop
    // may resume it: it polls every 1 ms after the pause, then twice as long after each empty poll up to PollTimeout, so
    // a fast endpoint that drains at once does not wait for its next fetch and a slow one costs no busy loop.
    private static readonly TimeSpan BoundPausedPollTimeout = TimeSpan.FromMilliseconds(1);
    private TimeSpan _pausedPoll = BoundPausedPollTimeout;

    private readonly RouteDefinition _route;
    private readonly ClusterDefinition _cluster;
    private readonly int _index;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OffsetCommitter _committer;
    private readonly MemberParts _parts;
    private readonly Dictionary<int, PartitionSession> _sessions = [];

    // The sessions' current workers, as the committer takes them.
    private readonly LocalOffsetStore _store;
    private readonly ProxyMetrics _metrics;
    private readonly TimeSpan _stopBound;
    private static readonly TimeSpan FinalCommitPatience = TimeSpan.FromSeconds(15);

    // A partition whose worker faulted is restarted at once, then at most once per RestartPause.
    private static readonly TimeSpan RestartPause = TimeSpan.FromSeconds(1);

    // Workers stopped by a fault, to be restarted by the consume loop, and workers that ask for their partition's fetching
    // to be paused or resumed: the consumer is used on the loop's thread only.
    private readonly ConcurrentQueue<PartitionWorker> _faulted = new();
    private readonly ConcurrentQueue<PartitionWorker> _fetchChanges = new();

    // The operator's controls, applied by the consume loop.
    private readonly MemberPause _pause;
    private readonly MemberSeeks _operatorSeeks;
    private volatile int _assignedPartitions;

    // Publishing the partitions' views for the admin endpoint.
    private readonly PartitionViews _views;

    private volatile string? _fatalError;
    private bool _stopping;
    private RepeatedLog<(bool Consume, ErrorCode Code), string>? _kafkaErrors;

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
            EarlyCommitWanted = () => AnySession(static s => s.Worker.NearUncommittedBound),
        };
        // async_concurrency: requests in flight at once for all partitions of this member; null in sync mode.
        var inFlight = route.Delivery.AsyncConcurrency > 0 ? new SemaphoreSlim(route.Delivery.AsyncConcurrency, route.Delivery.AsyncConcurrency) : null;
        _parts = new MemberParts(route, index, deliverer, inFlight, new PendingBytes(route.Delivery.MaxPendingBytes), _committer, metrics, logger, time, _faulted.Enqueue, _fetchChanges.Enqueue);
        _views = new PartitionViews(_parts, metrics.Observations);
        _pause = new MemberPause(_parts, StopWorkers);
        _operatorSeeks = new MemberSeeks(_parts, StopWorkers, AssignmentLookups.LogBoundsTimeout);

        // An attempt in flight may take exec_timeout_ms; a little more covers connection teardown.
        _stopBound = TimeSpan.FromMilliseconds(route.Endpoint.ExecTimeoutMs) + TimeSpan.FromSeconds(5);
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

    /// <summary>Runs the member until <paramref name="stop"/>; then finishes in-flight work, commits and leaves the group.</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.Factory.StartNew(() =>
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

    private void Run(CancellationToken stop)
    {
        using var consumer = Build();
        consumer.Subscribe(_route.Topic);
        Seeks.Register(_route.Name, _index, _operatorSeeks.RequestAsync);
        try
        {
            while (!stop.IsCancellationRequested && _fatalError is null)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(AnySession(static s => s.FetchPaused) ? _pausedPoll : PollTimeout);
                    _pausedPoll = result is null ? TimeSpan.FromTicks(Math.Min(_pausedPoll.Ticks * 2, PollTimeout.Ticks)) : BoundPausedPollTimeout;
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    ReportKafkaError(ex.Error, consume: true);
                    continue;
                }

                if (result is { IsPartitionEOF: false, Message: not null })
                {
                    Dispatch(consumer, result);
                }

                // Also the place, after every poll, where the member's assignment is published for the route's status.
                _assignedPartitions = _sessions.Count;
                _pause.Apply(consumer, _sessions, () => CommitNow(consumer));

                if (!_faulted.IsEmpty)
                {
                    RestartFaulted(consumer);
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
                if (!_fetchChanges.IsEmpty)
                {
                    // Last before the next poll: a pause a message dispatched above asked for holds before more are fetched.
                    ApplyFetchChanges(consumer);
                }
            }
        }
        finally
        {
            // Stop fetching, let attempts in flight finish, commit what finished, then leave the group. Each step runs
            // even when one before it failed: a fault in one partition must not cost the others their final commit.
            _stopping = true;
            StopStep("stopping the partition workers", () => StopWorkers(_sessions.Values));
            StopStep("the final commit", () => CommitBeforeLeaving(consumer));
            StopStep("leaving the group", () =>
            {
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
                StopStep("closing a local offset record", () => session.Offsets.Record?.Dispose());
            }

            _sessions.Clear();

            // Error counts not yet reported are written out now instead of being lost with the member.
            StopStep("reporting repeated Kafka client errors", () => _kafkaErrors?.Dispose());
            Log.MemberStopped(_logger, _route.Name, _index);
        }

        if (_fatalError is { } fatal)
        {
            throw new InvalidOperationException($"route {_route.Name} member {_index}: fatal Kafka client error: {fatal}");
        }
    }

    /// <summary>
    /// The final commit. A group in the middle of a rebalance refuses commits (REBALANCE_IN_PROGRESS,
    /// ILLEGAL_GENERATION) until this member has rejoined, which happens only while it polls; so poll, without
    /// delivering anything, until the commit goes through or <see cref="FinalCommitPatience"/> has passed.
    /// </summary>
    private void CommitBeforeLeaving(IConsumer<byte[]?, byte[]?> consumer)
    {
        var started = _time.GetTimestamp();
        while (!CommitNow(consumer) && _fatalError is null && _time.GetElapsedTime(started) < FinalCommitPatience)
        {
            try
            {
                // Messages returned now are not delivered and so never committed: the next owner gets them.
                consumer.Consume(TimeSpan.FromMilliseconds(200));
            }
            catch (ConsumeException ex) when (!ex.Error.IsFatal)
            {
                ReportKafkaError(ex.Error, consume: true);
            }
        }
    }

    private void StopStep(string step, Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // Whatever one step of the stop throws, the next steps still run; it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.StopStepFailed(_logger, _route.Name, _index, step, ex.ToString());
        }
    }

    /// <summary>
    /// Restarts the partitions whose worker stopped on a fault (logged by the worker with its stack trace) at their
    /// oldest unfinished offset. Runs on the consumer thread, the only one that may seek.
    /// </summary>
    private void RestartFaulted(IConsumer<byte[]?, byte[]?> consumer)
    {
        var count = _faulted.Count;
        for (var i = 0; i < count && _faulted.TryDequeue(out var faulted); i++)
        {
            if (_stopping || !_sessions.TryGetValue(faulted.Partition.Partition.Value, out var session) || !ReferenceEquals(session.Worker, faulted))
            {
                // Revoked meanwhile: the partition's next owner starts from its committed offset.
                continue;
            }

            if (!session.RestartAfterFault(consumer, RestartPause))
            {
                _faulted.Enqueue(faulted);
            }
        }
    }

    /// <summary>Pauses or resumes the fetching of partitions whose current worker asked for it.</summary>
    private void ApplyFetchChanges(IConsumer<byte[]?, byte[]?> consumer)
    {
        var count = _fetchChanges.Count;
        for (var i = 0; i < count && _fetchChanges.TryDequeue(out var worker); i++)
        {
            if (_sessions.TryGetValue(worker.Partition.Partition.Value, out var session) && ReferenceEquals(session.Worker, worker))
            {
                session.ApplyFetch(consumer);
                _pausedPoll = BoundPausedPollTimeout;
            }
        }
    }

    private bool AnySession(Func<PartitionSession, bool> test)
    {
        foreach (var session in _sessions.Values)
        {
            if (test(session))
            {
                return true;
            }
        }

        return false;
    }

    private void Dispatch(IConsumer<byte[]?, byte[]?> consumer, ConsumeResult<byte[]?, byte[]?> result)
    {
        if (!_sessions.TryGetValue(result.Partition.Value, out var session))
        {
            // Not expected (messages only come for assigned partitions); not delivering it keeps it uncommitted.
            return;
        }

        if (_pause.Requested || session.IsPaused)
        {
            // Not delivered while paused: the first held offset is where fetching resumes unless an earlier one is unfinished.
            session.Hold(result.Offset.Value);
            return;
        }

        session.Dispatch(result);
        session.JumpPastSeekSkip(consumer);
    }

    private IConsumer<byte[]?, byte[]?> Build()
    {
        var config = ConsumerSettings.Create(_route, _cluster, _index);
        IConsumer<byte[]?, byte[]?>? consumer = null;
        var builder = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetLogHandler((_, m) => OnKafkaLog(m))
            .SetErrorHandler((_, e) => OnKafkaError(e))
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
            var recordFile = OpenRecord(new PartitionKey(_cluster.Name, _route.Group, partition.Topic, number), clusterId);

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

    /// <summary>
    /// A partition's local record; null in modes 1 and 2 when it cannot be created (full disk): the record is an extra
    /// there, the commits in the cluster carry the position, so the partition is delivered without it (until assigned
    /// again) rather than the route restarting. In mode 3 the failure stops the assignment: no message may count as done
    /// without its record.
    /// </summary>
    private OffsetRecordFile? OpenRecord(PartitionKey key, string? clusterId)
    {
        try
        {
            return _store.Open(key, clusterId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && _route.Offsets.MessageDeliveryGuarantees != DeliveryGuarantee.NoRepeatOnOneMachine)
        {
            Log.LocalRecordUnavailable(_logger, _route.Name, key.ToString(), ex.Message);
            return null;
        }
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

        StopWorkers(released);
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

    /// <summary>Stops the sessions' workers and waits for them, bounded; never throws, so the caller's next steps always run.</summary>
    private void StopWorkers(IReadOnlyCollection<PartitionSession> sessions)
    {
        var stopping = new List<Task>();
        foreach (var session in sessions)
        {
            StopStep($"stopping the worker of partition {session.Number}", () => stopping.Add(session.Worker.StopAsync()));
        }

        try
        {
            if (stopping.Count > 0 && !Task.WaitAll([.. stopping], _stopBound))
            {
                Log.KafkaError(_logger, _route.Name, _index, $"deliveries still in flight after {_stopBound.TotalSeconds:F0} s; their messages stay uncommitted");
            }
        }
        catch (AggregateException ex)
        {
            Log.StopStepFailed(_logger, _route.Name, _index, "waiting for the partition workers", ex.ToString());
        }
    }

    private void OnKafkaLog(LogMessage message)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.KafkaLog(_logger, _route.Name, _index, message.Facility, message.Message);
        }
    }

    private void OnKafkaError(Error error)
    {
        if (error.IsFatal)
        {
            _fatalError = error.Reason;
            ErrorObserved?.Invoke($"fatal Kafka client error: {error.Reason}");
            Log.KafkaFatal(_logger, _route.Name, _index, error.Reason);
        }
        else
        {
            ReportKafkaError(error, consume: false);
        }
    }

    /// <summary>
    /// A broker outage makes librdkafka report the same error many times a second: per member and error code the
    /// first one is logged, then a count at most every 30 s (<see cref="RepeatedLog{TKey, TNote}"/>). Errors and
    /// consume errors are called back on the consume thread only, so the lazy start needs no lock.
    /// </summary>
    private void ReportKafkaError(Error error, bool consume)
    {
        _kafkaErrors ??= new RepeatedLog<(bool Consume, ErrorCode Code), string>(_time, RepeatedLog<(bool, ErrorCode), string>.DefaultInterval, (key, summary) =>
        {
            if (key.Consume)
            {
                Log.ConsumeErrorsRepeated(_logger, _route.Name, _index, key.Code.ToString(), summary.Count, summary.Since.TotalSeconds, summary.Latest);
            }
            else
            {
                Log.KafkaErrorsRepeated(_logger, _route.Name, _index, key.Code.ToString(), summary.Count, summary.Since.TotalSeconds, summary.Latest);
            }
        });
        var reason = LogText.Escape(error.Reason, DeliveryResult.MaxReasonChars);
        ErrorObserved?.Invoke($"{error.Code}: {reason}");
        if (!_kafkaErrors.ShouldLog((consume, error.Code), reason))
        {
            return;
        }

        if (consume)
        {
            Log.ConsumeError(_logger, _route.Name, _index, reason);
        }
        else
        {
            Log.KafkaError(_logger, _route.Name, _index, reason);
        }
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
