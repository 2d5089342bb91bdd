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
internal sealed class RouteMember
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
    private readonly TimeSpan _stopBound;
    private static readonly TimeSpan FinalCommitPatience = TimeSpan.FromSeconds(15);

    private volatile string? _fatalError;
    private bool _stopping;

    public RouteMember(RouteDefinition route, ClusterDefinition cluster, int index, MessageDeliverer deliverer, ILogger logger, TimeProvider time)
    {
        _route = route;
        _cluster = cluster;
        _index = index;
        _deliverer = deliverer;
        _logger = logger;
        _time = time;
        var interval = route.MessageDeliveryGuarantees == DeliveryGuarantee.BatchedCommit
            ? TimeSpan.FromMilliseconds(route.CommitIntervalMs)
            : TimeSpan.FromMilliseconds(RouteDefaults.CoalescedCommitIntervalMs);
        _committer = new OffsetCommitter(route.Name, index, interval, logger, time);

        // An attempt in flight may take exec_timeout_ms; a little more covers connection teardown.
        _stopBound = TimeSpan.FromMilliseconds(route.ExecTimeoutMs) + TimeSpan.FromSeconds(5);
    }

    /// <summary>Runs the member until <paramref name="stop"/>; then finishes in-flight work, commits and leaves the group.</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.Factory.StartNew(() => Run(stop), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        using var consumer = Build();
        consumer.Subscribe(_route.Topic);
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
                    Log.ConsumeError(_logger, _route.Name, _index, ex.Error.Reason);
                    continue;
                }

                if (result is { IsPartitionEOF: false, Message: not null })
                {
                    Dispatch(result);
                }

                _committer.CommitIfDue(consumer, _workers.Values);
            }
        }
        finally
        {
            // Stop fetching, let attempts in flight finish, commit what finished, then leave the group.
            _stopping = true;
            StopWorkers(_workers.Values);
            CommitBeforeLeaving(consumer);
            try
            {
                // Revokes what is still assigned (committing it once more if anything moved) and leaves the group.
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                Log.KafkaError(_logger, _route.Name, _index, ex.Error.Reason);
            }

            _workers.Clear();
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
                Log.ConsumeError(_logger, _route.Name, _index, ex.Error.Reason);
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

        var message = result.Message;
        worker.Enqueue(new KafkaRecord(result.Topic, partition, result.Offset.Value, message.Timestamp.UnixTimestampMs, message.Key, message.Value));
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

    private void OnAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            if (_stopping)
            {
                // Assigned during the final commit: left to the members that stay.
                continue;
            }

            var worker = new PartitionWorker(partition, new PartitionProgress(), _deliverer, consumer);
            _workers[partition.Partition.Value] = worker;
            worker.Start();
        }

        if (partitions.Count > 0)
        {
            Log.PartitionsAssigned(_logger, _route.Name, _index, Describe(partitions));
        }
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions, bool lost)
    {
        var workers = new List<PartitionWorker>();
        foreach (var partition in partitions)
        {
            if (_workers.Remove(partition.Partition.Value, out var worker))
            {
                workers.Add(worker);
            }
        }

        StopWorkers(workers);
        if (lost)
        {
            // The group already gave these partitions away; a commit would be refused and could
            // overwrite the new owner's progress.
            Log.PartitionsLost(_logger, _route.Name, _index, Describe(partitions.Select(p => p.TopicPartition)));
        }
        else
        {
            _committer.CommitNow(consumer, workers);
            Log.PartitionsRevoked(_logger, _route.Name, _index, Describe(partitions.Select(p => p.TopicPartition)));
        }

        _committer.Forget(partitions.Select(p => p.TopicPartition));
    }

    private void StopWorkers(IEnumerable<PartitionWorker> workers)
    {
        var stopping = workers.Select(w => w.StopAsync()).ToArray();
        if (stopping.Length > 0 && !Task.WaitAll(stopping, _stopBound))
        {
            Log.KafkaError(_logger, _route.Name, _index, $"deliveries still in flight after {_stopBound.TotalSeconds:F0} s; their messages stay uncommitted");
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
            Log.KafkaFatal(_logger, _route.Name, _index, error.Reason);
        }
        else
        {
            Log.KafkaError(_logger, _route.Name, _index, error.Reason);
        }
    }

    private static string Describe(IEnumerable<TopicPartition> partitions) =>
        string.Join(", ", partitions.Select(p => p.Partition.Value));
}
