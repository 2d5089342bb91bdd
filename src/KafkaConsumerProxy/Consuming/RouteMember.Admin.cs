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

    private RouteObservations Observations => _metrics.Observations;

    private void NoteAssigned(int partition, Offset committed, LogBounds? bounds) =>
        _atAssignment[partition] = (committed.IsSpecial ? -1 : committed.Value, bounds?.High ?? -1);

    private void PublishPartitions(IConsumer<byte[]?, byte[]?> consumer)
    {
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
        _oldest.Clear();
        _atAssignment.Clear();
    }
}
