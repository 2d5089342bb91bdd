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
/// One member of a route's consumer group. Its blocking consume loop runs on a dedicated thread and hands each
/// message to the partition's <see cref="PartitionWorker"/>; rebalance callbacks and commits run on that thread too,
/// so no lock is needed around the consumer's assignment.
/// </summary>
internal sealed partial class RouteMember : ISupervisedMember
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(20);

    private readonly RouteDefinition _route;
    private readonly ClusterDefinition _cluster;
    private readonly int _index;
    private readonly MessageDeliverer _deliverer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OffsetCommitter _committer;
    private readonly Dictionary<int, PartitionWorker> _workers = [];
    private readonly Dictionary<int, RepeatFilter> _filters = [];

    // async_concurrency: requests in flight at once for all partitions of this member; null in sync mode.
    private readonly SemaphoreSlim? _inFlight;
    private readonly Dictionary<int, OffsetRecordFile> _recordFiles = [];
    private readonly LocalOffsetStore _store;
    private readonly ProxyMetrics _metrics;
    private readonly TimeSpan _stopBound;
    private static readonly TimeSpan FinalCommitPatience = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan CommittedLookupTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LogBoundsTimeout = TimeSpan.FromSeconds(5);

    // A partition whose worker faulted is restarted at once, then at most once per RestartPause.
    private static readonly TimeSpan RestartPause = TimeSpan.FromSeconds(1);

    // max_pending_bytes over all partitions of this member.
    private readonly PendingBytes _pendingBytes;

    // Workers stopped by a fault, to be restarted by the consume loop (the consumer may only be used on its thread).
    private readonly ConcurrentQueue<PartitionWorker> _faulted = new();
    private readonly Dictionary<int, long> _lastRestart = [];

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
        _deliverer = deliverer;
        _logger = logger;
        _time = time;
        _inFlight = route.Delivery.AsyncConcurrency > 0 ? new SemaphoreSlim(route.Delivery.AsyncConcurrency, route.Delivery.AsyncConcurrency) : null;
        var interval = route.Offsets.MessageDeliveryGuarantees == DeliveryGuarantee.BatchedCommit
            ? TimeSpan.FromMilliseconds(route.Offsets.CommitIntervalMs)
            : TimeSpan.FromMilliseconds(RouteDefaults.CoalescedCommitIntervalMs);
        _committer = new OffsetCommitter(route.Name, index, interval, logger, time) { CommitFailed = () => metrics.OnCommitFailed(route.Name) };
        _pendingBytes = new PendingBytes(route.Delivery.MaxPendingBytes);

        // An attempt in flight may take exec_timeout_ms; a little more covers connection teardown.
        _stopBound = TimeSpan.FromMilliseconds(route.Endpoint.ExecTimeoutMs) + TimeSpan.FromSeconds(5);
    }

    /// <summary>Where the operator's seeks find this member while it runs; shared by every route of the process. A member
    /// built without one keeps its own.</summary>
    internal SeekRegistry Seeks { get; init; } = new();

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
                PauseEnded();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        using var consumer = Build();
        consumer.Subscribe(_route.Topic);
        Seeks.Register(_route.Name, _index, RequestSeek);
        try
        {
            while (!stop.IsCancellationRequested && _fatalError is null)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(PollTimeout);
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    ReportKafkaError(ex.Error, consume: true);
                    continue;
                }

                if (result is { IsPartitionEOF: false, Message: not null } && !HoldIfPaused(result))
                {
                    Dispatch(result);
                }

                ApplyPause(consumer);

                if (!_faulted.IsEmpty)
                {
                    RestartFaulted(consumer);
                }

                _committer.CommitIfDue(consumer, _workers.Values);
                _committer.RetryReleased(consumer);
                PublishPartitions(consumer);
            }
        }
        finally
        {
            // Stop fetching, let attempts in flight finish, commit what finished, then leave the group. Each step runs
            // even when one before it failed: a fault in one partition must not cost the others their final commit.
            _stopping = true;
            StopStep("stopping the partition workers", () => StopWorkers(_workers.Values));
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

            _workers.Clear();
            UnpublishAll();
            foreach (var recordFile in _recordFiles.Values)
            {
                StopStep("closing a local offset record", recordFile.Dispose);
            }

            _recordFiles.Clear();

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
        while (!_committer.CommitNow(consumer, _workers.Values) && _fatalError is null && _time.GetElapsedTime(started) < FinalCommitPatience)
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

    /// <summary>Starts the worker of a partition this member now owns (at assignment or after a fault).</summary>
    private PartitionWorker StartWorker(IConsumer<byte[]?, byte[]?> consumer, TopicPartition partition, PartitionProgress progress)
    {
        var worker = new PartitionWorker(partition, progress, _deliverer, consumer, _inFlight, _pendingBytes, _logger, _faulted.Enqueue);

        // A worker that replaces a stopped one (pause, fault, seek) counts uncommitted messages from the same commit.
        var from = _committer.CommittedOf(partition.Partition.Value)
            ?? (_workers.TryGetValue(partition.Partition.Value, out var before) ? before.UncommittedFrom : -1);
        if (from >= 0)
        {
            worker.CountUncommittedFrom(from);
        }

        _workers[partition.Partition.Value] = worker;
        worker.Start();
        return worker;
    }

    /// <summary>
    /// Restarts the partitions whose worker stopped on a fault (logged by the worker with its stack trace): the
    /// partition is fetched again from its oldest unfinished offset, so every message not finished is delivered again
    /// and the commit never passes one. Runs on the consumer thread, the only one that may seek.
    /// </summary>
    private void RestartFaulted(IConsumer<byte[]?, byte[]?> consumer)
    {
        var count = _faulted.Count;
        for (var i = 0; i < count && _faulted.TryDequeue(out var faulted); i++)
        {
            var partition = faulted.Partition.Partition.Value;
            if (_stopping || !_workers.TryGetValue(partition, out var current) || !ReferenceEquals(current, faulted))
            {
                // Revoked meanwhile: the partition's next owner starts from its committed offset.
                continue;
            }

            if (_lastRestart.TryGetValue(partition, out var last) && _time.GetElapsedTime(last) < RestartPause)
            {
                // A fault that comes back at once would otherwise restart the partition in a tight loop.
                _faulted.Enqueue(faulted);
                continue;
            }

            _lastRestart[partition] = _time.GetTimestamp();
            // A filter still in place holds the old progress; a fault comes from a delivery, so the filter has passed.
            _filters.Remove(partition);
            var progress = faulted.Progress.Restart(out var seekTo);
            try
            {
                if (seekTo >= 0)
                {
                    // Messages fetched before the seek are dropped by the client, so the new worker sees offsets in order.
                    consumer.Seek(new TopicPartitionOffset(faulted.Partition, seekTo));
                }

                // The faulted worker may have paused fetching at a bound.
                consumer.Resume([faulted.Partition]);
            }
            catch (KafkaException ex)
            {
                Log.KafkaError(_logger, _route.Name, _index, $"restart of {faulted.Partition.Topic}/{partition} at {seekTo} failed, tried again: {ex.Error.Reason}");
                _faulted.Enqueue(faulted);
                continue;
            }

            StartWorker(consumer, faulted.Partition, progress);
            Log.PartitionRestarted(_logger, _route.Name, _index, faulted.Partition.Topic, partition, seekTo);
            if (progress.DoneBeforeRestart > 0)
            {
                Log.FinishedAheadRemembered(_logger, _route.Name, _index, faulted.Partition.Topic, partition, seekTo, "fault restart", progress.DoneBeforeRestart);
            }
        }
    }

    private void Dispatch(ConsumeResult<byte[]?, byte[]?> result)
    {
        var partition = result.Partition.Value;
        if (!_workers.TryGetValue(partition, out var worker))
        {
            // Not expected (messages only come for assigned partitions); not delivering it keeps it uncommitted.
            return;
        }

        var offset = result.Offset.Value;
        SeekPass? passed = null;
        if (_seekSkips.Count > 0 && HeldBySeek(partition, offset, worker, out passed))
        {
            return;
        }

        if (_filters.TryGetValue(partition, out var filter))
        {
            if (filter.IsRepeat(offset))
            {
                return;
            }

            // Offsets only grow from here: the filter has done its work.
            _filters.Remove(partition);
        }

        var message = result.Message;
        worker.Enqueue(new KafkaRecord(result.Topic, partition, offset, message.Timestamp.UnixTimestampMs, message.Key, message.Value, KafkaHeader.From(message.Headers))
        {
            PassedBySeek = passed,
        });
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
            .SetPartitionsAssignedHandler((c, partitions) => OnAssigned(c, partitions))
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(c, partitions, lost: false))
            .SetPartitionsLostHandler((c, partitions) => OnRevoked(c, partitions, lost: true));
        try
        {
            consumer = builder.Build();
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"route {_route.Name} ({_route.SourceFile}): invalid Kafka consumer settings: {ConsumerSettings.Scrub(ex.Message, config)}");
        }

        return consumer;
    }

    /// <summary>
    /// Starts a worker per new partition where <see cref="StartPositionPolicy"/> says, from the group's committed offset,
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

        var committed = CommittedOffsets(consumer, partitions);
        var clusterId = ClusterIdOf(consumer);
        var logs = LogBoundsOf(consumer, partitions);
        var starts = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            var number = partition.Partition.Value;
            var recordFile = OpenRecord(new PartitionKey(_cluster.Name, _route.Group, partition.Topic, number), clusterId);
            if (recordFile is not null)
            {
                _recordFiles[number] = recordFile;
            }

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

            var progress = new PartitionProgress(recordFile, _route.Offsets.MessageDeliveryGuarantees, start.DurableFrom);
            if (start.SeekTo is { } seek)
            {
                progress.CommitFrom(seek);
            }

            if (start.TrustedRecord is { } trusted)
            {
                _filters[number] = new RepeatFilter(_route.Name, partition.Topic, number, trusted, progress, _metrics, _logger, _time);
            }

            StartWorker(consumer, partition, progress);
            NoteAssigned(number, committedOffset, bounds);
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

    private string? ClusterIdOf(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            // From the metadata the consumer already holds once it has joined the group; null when unknown.
            return consumer.ClusterId(LogBoundsTimeout);
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(_logger, _route.Name, _index, "could not read the cluster id: " + ex.Error.Reason);
            return null;
        }
    }

    /// <summary>
    /// Each partition's low and high watermark; bounds null with the reason when unknown. All queries share one
    /// <see cref="LogBoundsTimeout"/>, so an unreachable cluster holds the assignment up for that long, not that long per
    /// partition.
    /// </summary>
    private Dictionary<int, (LogBounds? Bounds, string? Error)> LogBoundsOf(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        var started = _time.GetTimestamp();
        var bounds = new Dictionary<int, (LogBounds? Bounds, string? Error)>(partitions.Count);
        foreach (var partition in partitions)
        {
            var left = LogBoundsTimeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                bounds[partition.Partition.Value] = (null, $"not queried: the {LogBoundsTimeout.TotalSeconds:F0} s for reading the log bounds at assignment ran out");
                continue;
            }

            try
            {
                var marks = consumer.QueryWatermarkOffsets(partition, left);
                bounds[partition.Partition.Value] = marks.Low.IsSpecial || marks.High.IsSpecial
                    ? (null, $"the cluster answered {marks.Low}..{marks.High}")
                    : (new LogBounds(marks.Low.Value, marks.High.Value), null);
            }
            catch (KafkaException ex)
            {
                bounds[partition.Partition.Value] = (null, ex.Error.Reason);
            }
        }

        return bounds;
    }

    private Dictionary<int, Offset> CommittedOffsets(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        try
        {
            return consumer.Committed(partitions, CommittedLookupTimeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
        }
        catch (KafkaException ex)
        {
            // Without the committed offsets the anomaly checks are skipped; the repeat filter still applies.
            Log.KafkaError(_logger, _route.Name, _index, "could not read committed offsets: " + ex.Error.Reason);
            return [];
        }
    }

    private static string Describe(Offset offset) => offset.IsSpecial ? "(none)" : offset.Value.ToString(CultureInfo.InvariantCulture);

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions, bool lost)
    {
        var workers = new List<PartitionWorker>();
        foreach (var partition in partitions)
        {
            if (_filters.Remove(partition.Partition.Value, out var filter))
            {
                filter.Stop();
            }

            if (_workers.Remove(partition.Partition.Value, out var worker))
            {
                workers.Add(worker);
            }
        }

        StopWorkers(workers);
        foreach (var partition in partitions)
        {
            _lastRestart.Remove(partition.Partition.Value);
            _seekSkips.Remove(partition.Partition.Value);
            if (_recordFiles.Remove(partition.Partition.Value, out var recordFile))
            {
                recordFile.Dispose();
            }
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
            _committer.CommitReleased(consumer, workers);
            Log.PartitionsRevoked(_logger, _route.Name, _index, Describe(partitions.Select(p => p.TopicPartition)));
        }

        _committer.Forget(partitions.Select(p => p.TopicPartition));
        _metrics.OnRebalance(_route.Name);
    }

    /// <summary>Stops workers and waits for them, bounded; never throws, so the caller's next steps always run.</summary>
    private void StopWorkers(IEnumerable<PartitionWorker> workers)
    {
        var stopping = new List<Task>();
        foreach (var worker in workers)
        {
            StopStep($"stopping the worker of partition {worker.Partition.Partition.Value}", () => stopping.Add(worker.StopAsync()));
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
}
