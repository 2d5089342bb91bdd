using Confluent.Kafka;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// Commits, for one group member, each partition's finished run of offsets. Commits are coalesced over
/// <see cref="Interval"/> and skipped when nothing moved; a failed commit is logged and tried again at the
/// next interval, because the finished offsets it carried are still known.
/// Runs on the consumer thread only.
/// </summary>
internal sealed class OffsetCommitter
{
    private readonly string _route;
    private readonly int _member;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<int, long> _committed = [];
    private long _lastCommit;

    public OffsetCommitter(string route, int member, TimeSpan interval, ILogger logger, TimeProvider time)
    {
        _route = route;
        _member = member;
        Interval = interval;
        _logger = logger;
        _time = time;
        _lastCommit = time.GetTimestamp();
    }

    public TimeSpan Interval { get; }

    public void CommitIfDue(IConsumer<byte[]?, byte[]?> consumer, IEnumerable<PartitionWorker> workers)
    {
        if (_time.GetElapsedTime(_lastCommit) >= Interval)
        {
            CommitNow(consumer, workers);
        }
    }

    /// <summary>Commits what is finished now; returns false when the commit failed.</summary>
    public bool CommitNow(IConsumer<byte[]?, byte[]?> consumer, IEnumerable<PartitionWorker> workers)
    {
        _lastCommit = _time.GetTimestamp();
        var offsets = new List<TopicPartitionOffset>();
        foreach (var worker in workers)
        {
            var position = worker.Progress.CommitPosition;
            if (position >= 0 && (!_committed.TryGetValue(worker.Partition.Partition.Value, out var done) || done != position))
            {
                offsets.Add(new TopicPartitionOffset(worker.Partition, position));
            }
        }

        if (offsets.Count == 0)
        {
            return true;
        }

        try
        {
            consumer.Commit(offsets);
            foreach (var offset in offsets)
            {
                _committed[offset.Partition.Value] = offset.Offset.Value;
            }

            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.Committed(_logger, _route, _member, Describe(offsets));
            }

            return true;
        }
        catch (KafkaException ex)
        {
            Log.CommitFailed(_logger, _route, _member, Describe(offsets), ex.Error.Reason);
            return false;
        }
    }

    /// <summary>Drops what is known of partitions this member no longer owns.</summary>
    public void Forget(IEnumerable<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            _committed.Remove(partition.Partition.Value);
        }
    }

    internal static string Describe(IEnumerable<TopicPartitionOffset> offsets) =>
        string.Join(", ", offsets.Select(o => $"{o.Partition.Value}:{o.Offset.Value}"));
}
