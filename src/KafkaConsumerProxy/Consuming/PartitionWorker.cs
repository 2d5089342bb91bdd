using System.Threading.Channels;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Delivers one assigned partition's messages, independently of the other partitions, in the route's mode:
/// <list type="bullet">
/// <item>sync (<c>async_concurrency: 0</c>): strictly in offset order, one message (or batch of consecutive offsets) at a time;</item>
/// <item>async: up to <c>async_concurrency</c> requests in flight, a limit shared by all partitions of the route member;
/// with <c>ordering: key</c> a message waits until the previous message with its key is finished (<see cref="KeyScheduler"/>),
/// with <c>ordering: none</c> it goes as soon as a slot is free.</item>
/// </list>
/// The consumer thread hands messages over through an unbounded queue whose size is bounded by pausing the
/// partition (the worker asks; the member's consume thread, the only one that touches the consumer, applies it:
/// <see cref="PartitionSession.ApplyFetch"/>) at <c>max_pending</c> unfinished messages and resuming it at half of that, and by the member's
/// <c>max_pending_bytes</c> (<see cref="PendingBytes"/>); and, so that a takeover repeats little, by pausing it at
/// <c>max_uncommitted</c> offsets past its last successful commit until a commit succeeds. Each message is tracked when it arrives and finished, in any
/// order, when delivered or skipped, so commits never pass an unfinished one.
/// <para>
/// An unexpected exception (a bug, not a failed delivery: those are outcomes) is logged at error with the partition,
/// offset and stack trace; the worker then stops and reports itself through the <c>faulted</c> callback once nothing of
/// it runs any more, so that the member restarts the partition from its last finished offset.
/// </para>
/// </summary>
internal sealed class PartitionWorker
{
    private readonly Channel<KafkaRecord> _ready;
    private static readonly TimeSpan PauseRequestedCheck = TimeSpan.FromMilliseconds(10);

    private readonly CancellationTokenSource _abandon = new();

    // The operator's pause, requested from any thread and applied later on the consume thread: no new delivery starts
    // meanwhile, so nothing starts between the request and the stop of this worker.
    private readonly Func<bool>? _pauseRequested;
    private readonly MessageDeliverer _deliverer;
    private readonly KeyScheduler? _keys;
    private readonly SemaphoreSlim? _inFlight;
    private readonly int _maxPending;
    private readonly int _batchSize;
    private readonly TimeSpan _linger;
    private readonly Func<KafkaRecord, MessageDisposition, ValueTask> _batchMessageDone;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _pauseLock = new();
    private readonly PendingBytes? _bytes;
    private readonly ILogger _logger;
    private readonly Action<PartitionWorker>? _faulted;
    private readonly Action<PartitionWorker>? _fetchChanged;

    // The run of the partition's offsets this worker finishes messages in (see PartitionOffsets.Restart).
    private readonly int _run;
    private bool _paused;
    private bool _pausedByCount;
    private bool _pausedByBytes;
    private bool _pausedByCommit;

    // max_uncommitted (0: none); the offset from which fetched messages count as not committed is the partition's
    // (PartitionOffsets.UncommittedFrom), so a worker that replaces a stopped one counts from the same commit.
    private readonly int _maxUncommitted;

    // The offset after the last message enqueued (consumer thread only): a message below it was fetched again because a
    // resume moved fetching to where it stood (see PartitionSession.ApplyFetch), and is already here.
    private long _next = -1;

    // Set once the worker is stopped or faulted (under _pauseLock): see Leave.
    private bool _leaving;

    // Bytes of this partition's messages counted in _bytes and not yet released; released all at once when the worker
    // has stopped (messages abandoned or never admitted by the key scheduler). Under _pauseLock.
    private long _pendingBytes;
    private bool _closed;

    // The dispatch loop counts as one, and so does each async delivery in flight; the worker has stopped at zero.
    private int _running;
    private bool _started;
    private Exception? _fault;

    /// <param name="inFlight">The route member's limit of requests in flight (<c>async_concurrency</c>), shared by all its
    /// partitions; null in sync mode.</param>
    /// <param name="bytes">The member's bound of pending bytes (<c>max_pending_bytes</c>); null: none.</param>
    /// <param name="logger">Where a fault is logged.</param>
    /// <param name="faulted">Called once, from any thread, when the worker stopped after a fault.</param>
    /// <param name="fetchChanged">Called, from any thread and under the worker's lock (so it must only note the request),
    /// each time <see cref="IsPaused"/> changes: the member's consume thread then pauses or resumes fetching.</param>
    public PartitionWorker(
        TopicPartition partition,
        PartitionOffsets offsets,
        MessageDeliverer deliverer,
        SemaphoreSlim? inFlight,
        PendingBytes? bytes = null,
        ILogger? logger = null,
        Action<PartitionWorker>? faulted = null,
        Action<PartitionWorker>? fetchChanged = null,
        Func<bool>? pauseRequested = null)
    {
        _pauseRequested = pauseRequested;
        _bytes = bytes;
        _logger = logger ?? NullLogger.Instance;
        _faulted = faulted;
        _fetchChanged = fetchChanged;
        Partition = partition;
        Offsets = offsets;
        _run = offsets.Run;
        _deliverer = deliverer;
        var route = deliverer.Route;
        _maxPending = route.Delivery.MaxPending;
        _maxUncommitted = route.Offsets.MaxUncommitted;
        _batchSize = route.Delivery.BatchSize;
        _linger = TimeSpan.FromMilliseconds(route.Delivery.BatchLingerMs);
        _inFlight = inFlight;
        if (inFlight is not null && route.Delivery.Ordering == DeliveryOrdering.Key)
        {
            _keys = new KeyScheduler();
        }

        // With key ordering, a finished message releases the next one of its key from a completion thread.
        _ready = Channel.CreateUnbounded<KafkaRecord>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = _keys is null });
        _batchMessageDone = OnBatchMessageDone;
    }

    public TopicPartition Partition { get; }

    public PartitionOffsets Offsets { get; }

    /// <summary>True while this worker wants fetching of its partition paused (any bound).</summary>
    public bool IsPaused
    {
        get
        {
            lock (_pauseLock)
            {
                return _paused;
            }
        }
    }

    /// <summary>
    /// Offsets fetched past the partition's last successful commit (consumer thread only): what a takeover now would
    /// deliver again.
    /// </summary>
    public long Uncommitted
    {
        get
        {
            var from = Offsets.UncommittedFrom;
            return from < 0 || _next < 0 ? 0 : Math.Max(0, _next - from);
        }
    }

    /// <summary>True when <see cref="Uncommitted"/> is half way to <c>max_uncommitted</c>: the member commits early.</summary>
    public bool NearUncommittedBound => _maxUncommitted > 0 && Uncommitted >= Math.Max(1, _maxUncommitted / 2);

    /// <summary>True while fetching is paused because <c>max_uncommitted</c> offsets wait for a successful commit.</summary>
    public bool WaitingForCommit
    {
        get
        {
            lock (_pauseLock)
            {
                return _pausedByCommit;
            }
        }
    }

    /// <summary>
    /// A commit of <paramref name="offset"/> for this partition succeeded (consumer thread): a partition paused for
    /// <c>max_uncommitted</c> fetches again once it is under the bound.
    /// </summary>
    public void OnCommitted(long offset)
    {
        Offsets.UncommittedFrom = offset;
        if (!Volatile.Read(ref _pausedByCommit) || Uncommitted >= _maxUncommitted)
        {
            return;
        }

        lock (_pauseLock)
        {
            _pausedByCommit = false;
            UpdatePause();
        }

        Log.CommitCaughtUp(_logger, _deliverer.Route.Name, Partition.Topic, Partition.Partition.Value, offset);
    }

    /// <summary>The fault that stopped the worker, if any.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Completes when nothing of the worker runs any more; never faults (a fault is in <see cref="Fault"/>).</summary>
    public Task Stopped => _stopped.Task;

    public void Start()
    {
        _started = true;
        _running = 1;
        _ = Task.Run(RunAsync);
    }

    /// <summary>Called on the consumer thread for each fetched message of this partition, in offset order.</summary>
    public void Enqueue(KafkaRecord record)
    {
        if (record.Offset < _next)
        {
            return;
        }

        _next = record.Offset + 1;
        if (Offsets.UncommittedFrom < 0)
        {
            Offsets.UncommittedFrom = record.Offset;
        }

        if (_maxUncommitted > 0 && Uncommitted >= _maxUncommitted)
        {
            // Nothing further is fetched until a commit succeeds: a takeover repeats at most max_uncommitted messages.
            bool started;
            lock (_pauseLock)
            {
                started = !_pausedByCommit && !_leaving;
                _pausedByCommit = true;
                UpdatePause();
            }

            if (started)
            {
                Log.WaitingForCommit(_logger, _deliverer.Route.Name, Partition.Topic, Partition.Partition.Value, Uncommitted, Offsets.UncommittedFrom);
            }
        }

        if (Offsets.FinishIfDoneBefore(record.Offset))
        {
            // Delivered (or skipped) before a pause or fault restarted the partition behind it.
            return;
        }

        Offsets.Track(record.Offset);
        var bytes = SizeOf(record);
        var overBytes = false;
        lock (_pauseLock)
        {
            // A stopped worker's messages are fetched again by whoever takes the partition next; they hold no memory here.
            if (!_closed && _bytes is not null)
            {
                _pendingBytes += bytes;
                overBytes = _bytes.Add(this, bytes);

                // Set in the same section as the registration: a drain that follows at once must find it set to clear it.
                _pausedByBytes |= overBytes;
            }
        }

        if (_keys is null || _keys.TryAdmit(record))
        {
            _ready.Writer.TryWrite(record);
        }

        var overCount = Offsets.Pending >= _maxPending;
        if (overCount || overBytes)
        {
            lock (_pauseLock)
            {
                _pausedByCount |= overCount && Offsets.Pending >= _maxPending;
                UpdatePause();
            }
        }
    }

    /// <summary>The member's pending bytes fell to half their bound: this partition may fetch again as far as bytes go.</summary>
    internal void OnBytesDrained()
    {
        lock (_pauseLock)
        {
            _pausedByBytes = false;
            UpdatePause();
        }
    }

    private static long SizeOf(KafkaRecord record) => (record.Key?.LongLength ?? 0) + (record.Value?.LongLength ?? 0);

    /// <summary>
    /// Stops taking new messages and abandons waits between retries; attempts already sent finish (bounded by
    /// <c>exec_timeout_ms</c>). Queued and abandoned messages stay uncommitted for the next owner.
    /// </summary>
    public Task StopAsync()
    {
        Leave();
        _ready.Writer.TryComplete();
        _abandon.Cancel();
        return _started ? _stopped.Task : Task.CompletedTask;
    }

    /// <summary>
    /// The dispatch loop: takes the next message or batch and delivers it, waiting for it in sync mode; in async mode
    /// it first takes a slot of the member's limit, hands it to the delivery and goes on without waiting.
    /// </summary>
    private async Task RunAsync()
    {
        var reader = _ready.Reader;
        try
        {
            while (!_abandon.IsCancellationRequested && await reader.WaitToReadAsync(_abandon.Token).ConfigureAwait(false))
            {
                if (_pauseRequested is not null && _pauseRequested())
                {
                    // Ended by the pause's stop of this worker, or by a resume asked before the pause was applied.
                    await Task.Delay(PauseRequestedCheck, _deliverer.Time, _abandon.Token).ConfigureAwait(false);
                    continue;
                }

                SemaphoreSlim? slot = null;
                if (_inFlight is not null)
                {
                    // Taken before the work, so that while all slots are busy messages gather into fuller batches.
                    await _inFlight.WaitAsync(_abandon.Token).ConfigureAwait(false);
                    slot = _inFlight;
                }

                Task delivery;
                try
                {
                    if (_batchSize == 1)
                    {
                        // Only this loop reads, and it saw a message.
                        reader.TryRead(out var record);
                        Interlocked.Increment(ref _running);
                        delivery = DeliverAsync(record!, Hand(ref slot));
                    }
                    else
                    {
                        var batch = await CollectBatchAsync(reader).ConfigureAwait(false);
                        Interlocked.Increment(ref _running);
                        delivery = DeliverAsync(batch, Hand(ref slot));
                    }
                }
                finally
                {
                    // Still ours only when stopped while a batch gathered.
                    slot?.Release();
                }

                if (_inFlight is null)
                {
                    await delivery.ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            // Revoked or stopping while waiting for a message or a slot.
        }
#pragma warning disable CA1031 // As in DeliverAsync: the partition is restarted.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex, "(between messages)");
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Passes the loop's slot on to a delivery, whose deliverer gives it back.</summary>
    private static SemaphoreSlim? Hand(ref SemaphoreSlim? slot)
    {
        var taken = slot;
        slot = null;
        return taken;
    }

    private async Task DeliverAsync(KafkaRecord record, SemaphoreSlim? slot)
    {
        try
        {
            InjectedFaults.ThrowIfInjected(record, slot);
            var disposition = await _deliverer.DeliverAsync(record, _abandon.Token, slot).ConfigureAwait(false);
            if (disposition != MessageDisposition.Abandoned)
            {
                await FinishAsync(record, disposition).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // A bug must not vanish in a delivery nobody awaits: it stops the partition, which is restarted.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex, record.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            Exit();
        }
    }

    private async Task DeliverAsync(List<KafkaRecord> batch, SemaphoreSlim? slot)
    {
        try
        {
            InjectedFaults.ThrowIfInjected(batch[0], slot);
            await _deliverer.DeliverBatchAsync(batch, _batchMessageDone, _abandon.Token, slot).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As above.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{batch[0].Offset}-{batch[^1].Offset}"));
        }
        finally
        {
            Exit();
        }
    }

    private void Fail(Exception ex, string offset)
    {
        if (Interlocked.CompareExchange(ref _fault, ex, null) is null)
        {
            Log.PartitionFaulted(_logger, ex, _deliverer.Route.Name, Partition.Topic, Partition.Partition.Value, offset);
        }

        Leave();
        _ready.Writer.TryComplete();
        _abandon.Cancel();
    }

    /// <summary>
    /// The messages ready now, up to <c>batch_size</c>; when fewer are ready, waits up to <c>batch_linger_ms</c> for
    /// more. In sync mode they are consecutive offsets; with key ordering no two share a key (each was admitted alone).
    /// </summary>
    private async Task<List<KafkaRecord>> CollectBatchAsync(ChannelReader<KafkaRecord> reader)
    {
        var batch = new List<KafkaRecord>(Math.Min(_batchSize, 256));
        while (batch.Count < _batchSize && reader.TryRead(out var record))
        {
            batch.Add(record);
        }

        if (batch.Count == _batchSize || _linger <= TimeSpan.Zero)
        {
            return batch;
        }

        using var linger = new CancellationTokenSource(_linger, _deliverer.Time);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(linger.Token, _abandon.Token);
        try
        {
            while (batch.Count < _batchSize && await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false))
            {
                while (batch.Count < _batchSize && reader.TryRead(out var record))
                {
                    batch.Add(record);
                }
            }
        }
        catch (OperationCanceledException) when (!_abandon.IsCancellationRequested)
        {
            // Lingered long enough: send what there is.
        }

        _abandon.Token.ThrowIfCancellationRequested();
        return batch;
    }

    private ValueTask OnBatchMessageDone(KafkaRecord record, MessageDisposition disposition) =>
        disposition == MessageDisposition.Abandoned ? ValueTask.CompletedTask : FinishAsync(record, disposition);

    /// <summary>A message was delivered or skipped: frees its key, counts it finished and resumes fetching when drained.</summary>
    private async ValueTask FinishAsync(KafkaRecord record, MessageDisposition disposition)
    {
        if (_keys?.Release(record) is { } next)
        {
            _ready.Writer.TryWrite(next);
        }

        await Offsets.FinishAsync(record.Offset, _run, _deliverer.Time, _abandon.Token).ConfigureAwait(false);
        if (record.FetchedAt != 0)
        {
            _deliverer.Metrics.OnProcessed(_deliverer.Route.Name, record.Topic, record.Partition, _deliverer.Time.GetElapsedTime(record.FetchedAt), disposition == MessageDisposition.Skipped);
        }

        if (_bytes is not null)
        {
            var bytes = SizeOf(record);
            lock (_pauseLock)
            {
                if (_closed)
                {
                    bytes = 0;
                }
                else
                {
                    _pendingBytes -= bytes;
                }
            }

            _bytes.Release(bytes);
        }

        ResumeIfDrained();
    }

    private void ResumeIfDrained()
    {
        if (!Volatile.Read(ref _pausedByCount) || Offsets.Pending > _maxPending / 2)
        {
            return;
        }

        lock (_pauseLock)
        {
            if (_pausedByCount && Offsets.Pending <= _maxPending / 2)
            {
                _pausedByCount = false;
                UpdatePause();
            }
        }
    }

    /// <summary>
    /// From here on this worker never asks for its partition to be resumed: whoever takes it next (a restart, a seek, the
    /// new owner) positions it.
    /// </summary>
    private void Leave()
    {
        lock (_pauseLock)
        {
            _leaving = true;
        }
    }

    /// <summary>
    /// Asks for fetching to be paused or resumed to match the three bounds; the member's consume thread applies it. A
    /// stopped worker never asks to resume: whoever takes the partition next positions it. Under <see cref="_pauseLock"/>.
    /// </summary>
    private void UpdatePause()
    {
        var pause = _pausedByCount || _pausedByBytes || _pausedByCommit;
        if (pause == _paused || (!pause && _leaving))
        {
            return;
        }

        _paused = pause;
        _fetchChanged?.Invoke(this);
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _running) != 0)
        {
            return;
        }

        long release;
        lock (_pauseLock)
        {
            _closed = true;
            release = _pendingBytes;
            _pendingBytes = 0;
        }

        if (_bytes is not null)
        {
            _bytes.Forget(this);
            _bytes.Release(release);
        }

        _stopped.TrySetResult();
        if (Volatile.Read(ref _fault) is not null)
        {
            _faulted?.Invoke(this);
        }
    }
}
