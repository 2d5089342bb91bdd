using System.Collections.Concurrent;
using Confluent.Kafka;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What the member tells the admin endpoint about its partitions: offsets, lag and the oldest unfinished message,
/// published from the consume loop about once a second (every value read here is local to the client: no request).
/// </summary>
internal sealed partial class RouteMember
{
    private static readonly TimeSpan PublishInterval = TimeSpan.FromSeconds(1);

    // On the consumer thread only.
    private readonly Dictionary<int, (long Committed, long High)> _atAssignment = [];
    private readonly Dictionary<int, (long Offset, DateTimeOffset Since)> _oldest = [];
    private readonly HashSet<int> _published = [];
    private long _lastPublish;
    private readonly ConcurrentQueue<(SeekTarget Target, TaskCompletionSource<IReadOnlyList<SeekMove>> Done)> _seeks = new();

    private RouteObservations Observations => _metrics.Observations;

    private void NoteAssigned(int partition, Offset committed, LogBounds? bounds) =>
        _atAssignment[partition] = (committed.IsSpecial ? -1 : committed.Value, bounds?.High ?? -1);

    private void PublishPartitions(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (!_seeks.IsEmpty)
        {
            ApplySeeks(consumer);
        }

        if (_lastPublish != 0 && _time.GetElapsedTime(_lastPublish) < PublishInterval)
        {
            return;
        }

        _lastPublish = _time.GetTimestamp();
        var now = _time.GetUtcNow();
        foreach (var (number, worker) in _workers)
        {
            long position = -1, high = -1;
            try
            {
                var at = consumer.Position(worker.Partition);
                position = at.IsSpecial ? -1 : at.Value;
                var marks = consumer.GetWatermarkOffsets(worker.Partition);
                high = marks.High.IsSpecial ? -1 : marks.High.Value;
            }
            catch (KafkaException)
            {
                // Not known yet: shown as -1.
            }

            var assigned = _atAssignment.GetValueOrDefault(number, (-1, -1));
            var committed = _committer.CommittedOf(number) ?? assigned.Committed;
            if (high < 0)
            {
                high = assigned.High;
            }

            var oldest = worker.Progress.OldestUnfinished;
            DateTimeOffset? since = null;
            if (oldest >= 0)
            {
                since = _oldest.TryGetValue(number, out var seen) && seen.Offset == oldest ? seen.Since : now;
                _oldest[number] = (oldest, since.Value);
            }
            else
            {
                _oldest.Remove(number);
            }

            Observations.Publish(new PartitionView(_route.Name, worker.Partition.Topic, number, _index, position, committed, high,
                worker.Progress.Pending, oldest, since));
            _published.Add(number);
        }

        _published.RemoveWhere(p =>
        {
            if (_workers.ContainsKey(p))
            {
                return false;
            }

            Observations.Unpublish(_route.Name, p, _index);
            _oldest.Remove(p);
            _atAssignment.Remove(p);
            return true;
        });
    }

    private void UnpublishAll()
    {
        foreach (var p in _published)
        {
            Observations.Unpublish(_route.Name, p, _index);
        }

        _published.Clear();
        Observations.SetJoined(_route.Name, _index, false);
        Observations.UnregisterSeeker(_route.Name, _index);
        while (_seeks.TryDequeue(out var request))
        {
            request.Done.TrySetResult([]);
        }
        _oldest.Clear();
        _atAssignment.Clear();
    }

    /// <summary>Asks the consume loop to move this member's partitions (any thread); completes with what moved.</summary>
    private Task<IReadOnlyList<SeekMove>> RequestSeek(SeekTarget target)
    {
        var done = new TaskCompletionSource<IReadOnlyList<SeekMove>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _seeks.Enqueue((target, done));
        return done.Task;
    }

    /// <summary>
    /// Moves the selected partitions on the consumer thread: the worker stops (attempts in flight finish), the local
    /// record is discarded and the repeat filter dropped, so the replayed messages are delivered, not filtered; the
    /// new position is committed like any other once the first of them finishes.
    /// </summary>
    private void ApplySeeks(IConsumer<byte[]?, byte[]?> consumer)
    {
        while (_seeks.TryDequeue(out var request))
        {
            var moves = new List<SeekMove>();
            try
            {
                foreach (var (number, worker) in _workers.ToList())
                {
                    if (request.Target.Partition is { } only && only != number)
                    {
                        continue;
                    }

                    var partition = worker.Partition;
                    var to = Resolve(consumer, partition, request.Target);
                    var at = consumer.Position(partition);
                    StopWorkers([worker]);
                    if (_filters.Remove(number, out var filter))
                    {
                        filter.Stop();
                    }

                    var progress = new PartitionProgress(_recordFiles.TryGetValue(number, out var record) ? record : null, _route.MessageDeliveryGuarantees, -1);
                    record?.Discard();
                    progress.CommitFrom(to);
                    consumer.Seek(new TopicPartitionOffset(partition, to));
                    consumer.Resume([partition]);
                    StartWorker(consumer, partition, progress);
                    _oldest.Remove(number);
                    var from = at.IsSpecial ? -1 : at.Value;
                    moves.Add(new SeekMove(partition.Topic, number, _index, from, to));
                    Log.PartitionSeek(_logger, _route.Name, _index, partition.Topic, number, from, to);
                }

                request.Done.TrySetResult(moves);
            }
#pragma warning disable CA1031 // Reported to the operator who asked; the member goes on.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                request.Done.TrySetException(ex);
            }
        }

        _lastPublish = 0;
    }

    private static long Resolve(IConsumer<byte[]?, byte[]?> consumer, TopicPartition partition, SeekTarget target)
    {
        var marks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5));
        if (target.Offset is { } offset)
        {
            if (offset < marks.Low.Value || offset > marks.High.Value)
            {
                throw new ArgumentOutOfRangeException(nameof(target), $"offset {offset} is outside partition {partition.Partition.Value}'s log {marks.Low.Value}..{marks.High.Value}");
            }

            return offset;
        }

        if (target.Timestamp is { } time)
        {
            var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(partition, new Timestamp(time))], TimeSpan.FromSeconds(5)).Single().Offset;
            return found.IsSpecial ? marks.High.Value : found.Value;
        }

        return target.Position == "earliest" ? marks.Low.Value : marks.High.Value;
    }
}
