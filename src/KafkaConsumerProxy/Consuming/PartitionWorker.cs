using System.Threading.Channels;
using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Delivers one assigned partition's messages strictly in offset order, one at a time, independently of the
/// other partitions. The consumer thread hands messages over through an unbounded queue whose size is bounded by
/// pausing the partition at <see cref="MaxPending"/> unfinished messages and resuming it at half of that.
/// </summary>
internal sealed class PartitionWorker
{
    /// <summary>Unfinished messages per partition before fetching of that partition pauses.</summary>
    public const int MaxPending = 1000;

    private readonly Channel<KafkaRecord> _queue = Channel.CreateUnbounded<KafkaRecord>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _abandon = new();
    private readonly MessageDeliverer _deliverer;
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly Lock _pauseLock = new();
    private bool _paused;
    private Task _loop = Task.CompletedTask;

    public PartitionWorker(TopicPartition partition, PartitionProgress progress, MessageDeliverer deliverer, IConsumer<byte[]?, byte[]?> consumer)
    {
        Partition = partition;
        Progress = progress;
        _deliverer = deliverer;
        _consumer = consumer;
    }

    public TopicPartition Partition { get; }

    public PartitionProgress Progress { get; }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Called on the consumer thread for each fetched message of this partition.</summary>
    public void Enqueue(KafkaRecord record)
    {
        Progress.Track(record.Offset);
        _queue.Writer.TryWrite(record);
        if (Progress.Pending >= MaxPending)
        {
            lock (_pauseLock)
            {
                if (!_paused && Progress.Pending >= MaxPending)
                {
                    _paused = true;
                    _consumer.Pause([Partition]);
                }
            }
        }
    }

    /// <summary>
    /// Stops taking new messages and abandons waits between retries; an attempt already sent finishes
    /// (bounded by <c>exec_timeout_ms</c>). Queued messages stay uncommitted for the next owner.
    /// </summary>
    public Task StopAsync()
    {
        _queue.Writer.TryComplete();
        _abandon.Cancel();
        return _loop;
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var record in _queue.Reader.ReadAllAsync(_abandon.Token).ConfigureAwait(false))
            {
                var disposition = await _deliverer.DeliverAsync(record, _abandon.Token).ConfigureAwait(false);
                if (disposition == MessageDisposition.Abandoned)
                {
                    return;
                }

                await Progress.FinishAsync(record.Offset).ConfigureAwait(false);
                ResumeIfDrained();
                if (_abandon.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            // Revoked or stopping while waiting for the next message.
        }
    }

    private void ResumeIfDrained()
    {
        if (!Volatile.Read(ref _paused) || Progress.Pending > MaxPending / 2)
        {
            return;
        }

        lock (_pauseLock)
        {
            if (_paused && !_abandon.IsCancellationRequested)
            {
                _paused = false;
                try
                {
                    _consumer.Resume([Partition]);
                }
                catch (KafkaException)
                {
                    // The partition was revoked meanwhile; the new owner fetches it.
                }
            }
        }
    }
}
