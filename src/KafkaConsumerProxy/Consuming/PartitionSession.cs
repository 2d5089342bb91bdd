using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Consuming;

/// <summary>What the partition sessions of one route member share.</summary>
/// <param name="Faulted">Where a worker stopped by a fault reports itself (any thread); the member restarts it.</param>
/// <param name="FetchChanged">Where a worker asks for its partition's fetching to be paused or resumed (any thread); the
/// member's consume thread applies it (<see cref="PartitionSession.ApplyFetch"/>).</param>
internal sealed record MemberParts(
    RouteDefinition Route,
    int Member,
    MessageDeliverer Deliverer,
    SemaphoreSlim? InFlight,
    PendingBytes PendingBytes,
    OffsetCommitter Committer,
    ProxyMetrics Metrics,
    ILogger Logger,
    TimeProvider Time,
    Action<PartitionWorker> Faulted,
    Action<PartitionWorker> FetchChanged,
    Func<bool> PauseRequested);

/// <summary>
/// One partition while a route member owns it: its worker, its offsets (<see cref="PartitionOffsets"/>: progress, local
/// record, repeat filter), fetch pause at the worker's bounds, the operator's pause and a forced seek's passage. Everything here runs on the member's consume
/// thread, the only one that touches the consumer (the worker's deliveries run on their own and only ask). Whatever
/// moves the partition (a fault restart, a resume, a seek) goes through <see cref="RestartAt"/>.
/// </summary>
internal sealed class PartitionSession
{
    private readonly MemberParts _parts;
    private long _lastRestart;

    // The operator's pause: where fetching resumes (-1: where it is) and the repeat filter (if still filtering) set up
    // again after the resume.
    private (long SeekTo, RepeatFilter? Filtering)? _pause;

    // The first offset fetched and not dispatched while a pause is requested or applied; -1: none.
    private long _held = -1;

    // A forced seek's passage over unfinished messages, and whether fetching is to jump on to its target.
    private SeekSkip? _seekSkip;
    private bool _seekJump;

    // For the partition's view: the committed offset and high watermark at assignment, the oldest unfinished offset.
    private readonly long _committedAtAssignment;
    private readonly long _highAtAssignment;
    private (long Offset, DateTimeOffset Since)? _oldest;
    private readonly RecordTimes _times = new();

    /// <param name="offsets">The partition's offsets, with its local record and repeat filter.</param>
    /// <param name="committed">The group's committed offset at assignment; -1: none.</param>
    /// <param name="high">The partition's high watermark at assignment; -1: unknown.</param>
    public PartitionSession(MemberParts parts, TopicPartition partition, PartitionOffsets offsets, long committed, long high)
    {
        _parts = parts;
        Partition = partition;
        Offsets = offsets;
        _committedAtAssignment = committed;
        _highAtAssignment = high;
        parts.Metrics.OnPartitionAssigned(parts.Route.Name, partition.Topic, partition.Partition.Value);
        Worker = StartWorker();
    }

    /// <summary>
    /// The session of a partition just assigned, started where <see cref="StartPositionPolicy"/> says: its offsets own
    /// <paramref name="record"/> (null: none) and filter the repeats of a trusted record.
    /// </summary>
    /// <param name="committed">The group's committed offset at assignment; -1: none.</param>
    /// <param name="high">The partition's high watermark at assignment; -1: unknown.</param>
    public static PartitionSession Start(MemberParts parts, TopicPartition partition, OffsetRecordFile? record, StartPosition start, long committed, long high)
    {
        var filter = start.TrustedRecord is { } trusted
            ? new RepeatFilter(parts.Route.Name, partition.Topic, partition.Partition.Value, trusted, parts.Metrics, parts.Logger, parts.Time)
            : null;
        var offsets = new PartitionOffsets(record, parts.Route.Offsets.MessageDeliveryGuarantees, start.DurableFrom, filter);
        if (start.SeekTo is { } seek)
        {
            offsets.CommitFrom(seek);
        }

        return new PartitionSession(parts, partition, offsets, committed, high);
    }

    public TopicPartition Partition { get; }

    public int Number => Partition.Partition.Value;

    /// <summary>The current worker: running, or stopped by the operator's pause or a fault until restarted.</summary>
    public PartitionWorker Worker { get; private set; }

    /// <summary>The partition's offsets, its local record and repeat filter; the same for every worker of the session.</summary>
    public PartitionOffsets Offsets { get; }

    /// <summary>True while fetching is paused because the worker asked (a bound); false while the operator's pause holds it.</summary>
    public bool FetchPaused { get; private set; }

    /// <summary>True while the operator's pause holds the partition (its worker stopped).</summary>
    public bool IsPaused => _pause is not null;

    /// <summary>True when a pause holds a message fetched and not dispatched.</summary>
    public bool HasHeld => _held >= 0;

    /// <summary>Where fetching resumes for a partition the operator's pause holds (its first message not dispatched); -1: not held.</summary>
    public long HeldFrom => _held >= 0 ? _held : _pause?.SeekTo ?? -1;

    /// <summary>
    /// The one way a partition moves, its worker stopped (a fault restart, the end of a pause, a seek): fetches it from
    /// <paramref name="seekTo"/> (-1: where it is), restarts its offsets in place with <paramref name="restartOffsets"/>
    /// and starts a new worker; the operator's pause state ends. Throws <see cref="KafkaException"/>, with the offsets
    /// unchanged, when the client refuses.
    /// </summary>
    private void RestartAt(IConsumer<byte[]?, byte[]?> consumer, long seekTo, Action<PartitionOffsets> restartOffsets)
    {
        if (seekTo >= 0)
        {
            // Messages fetched before the seek are dropped by the client, so the new worker sees offsets in order.
            consumer.Seek(new TopicPartitionOffset(Partition, seekTo));
        }

        // The stopped worker may have paused fetching at a bound, or the operator's pause did.
        consumer.Resume([Partition]);
        restartOffsets(Offsets);
        _pause = null;
        FetchPaused = false;
        Worker = StartWorker();
    }

    /// <summary>
    /// Pauses or resumes fetching as the worker asks (max_pending, max_pending_bytes, max_uncommitted). A stopped worker
    /// never asks to resume; while the operator's pause holds the partition, it decides.
    /// </summary>
    public void ApplyFetch(IConsumer<byte[]?, byte[]?> consumer)
    {
        var pause = Worker.IsPaused;
        if (pause == FetchPaused || IsPaused)
        {
            return;
        }

        try
        {
            if (pause)
            {
                consumer.Pause([Partition]);
            }
            else
            {
                consumer.Resume([Partition]);
            }
        }
        catch (KafkaException)
        {
            // Revoked meanwhile: the new owner fetches it.
            return;
        }

        FetchPaused = pause;
        if (!pause)
        {
            StartFetching(consumer);
        }
    }

    /// <summary>
    /// Starts the resumed partition's next fetch now. The client drops what it had prefetched when a partition is paused,
    /// and after a resume its broker thread notices the partition only at its next wake-up, up to a second later: in that
    /// time a fast endpoint drains what is pending and waits (batch 100 against nginx: 105,000 msg/s with the wait,
    /// 205,000 without; docs/PERFORMANCE-LAB.md). A seek to the client's own position wakes it without moving anything; a
    /// message returned twice is dropped by <see cref="PartitionWorker.Enqueue"/>.
    /// </summary>
    private void StartFetching(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            var position = consumer.Position(Partition);
            if (!position.IsSpecial)
            {
                consumer.Seek(new TopicPartitionOffset(Partition, position));
            }
        }
        catch (KafkaException)
        {
            // Revoked meanwhile: the new owner fetches it. Otherwise the fetch starts at the client's next wake-up.
        }
    }

    /// <summary>
    /// Restarts a worker stopped by a fault at its oldest unfinished offset, so every message not finished is delivered
    /// again and the commit never passes one; false when it is to be tried again later (too soon after the last restart,
    /// or the client refused).
    /// </summary>
    public bool RestartAfterFault(IConsumer<byte[]?, byte[]?> consumer, TimeSpan restartPause)
    {
        if (_lastRestart != 0 && _parts.Time.GetElapsedTime(_lastRestart) < restartPause)
        {
            // A fault that comes back at once would otherwise restart the partition in a tight loop.
            return false;
        }

        _lastRestart = _parts.Time.GetTimestamp();
        var seekTo = Offsets.RestartPosition;
        try
        {
            // Repeat filtering under way ends.
            RestartAt(consumer, seekTo, static offsets => offsets.Restart());
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(_parts.Logger, _parts.Route.Name, _parts.Member, $"restart of {Partition.Topic}/{Number} at {seekTo} failed, tried again: {ex.Error.Reason}");
            return false;
        }

        Log.PartitionRestarted(_parts.Logger, _parts.Route.Name, _parts.Member, Partition.Topic, Number, seekTo);
        if (Offsets.DoneBeforeRestart > 0)
        {
            Log.FinishedAheadRemembered(_parts.Logger, _parts.Route.Name, _parts.Member, Partition.Topic, Number, seekTo, "fault restart", Offsets.DoneBeforeRestart);
        }

        return true;
    }

    /// <summary>
    /// Takes a fetched message of the partition. While the operator's pause is requested or holds the partition it is
    /// not delivered: the first held offset is where fetching resumes unless an earlier one is unfinished. Otherwise it
    /// goes to the worker, unless a forced seek's passage or the repeat filter takes it (a message a forced seek passes
    /// unread makes fetching jump on to the target: see <see cref="JumpPastSeekSkip"/>).
    /// </summary>
    public void Dispatch(IConsumer<byte[]?, byte[]?> consumer, ConsumeResult<byte[]?, byte[]?> result, bool pauseRequested)
    {
        if (pauseRequested || IsPaused)
        {
            // Offsets come in order, so the first held one counts.
            if (_held < 0)
            {
                _held = result.Offset.Value;
            }

            return;
        }

        Deliver(result);
        JumpPastSeekSkip(consumer);
    }

    private void Deliver(ConsumeResult<byte[]?, byte[]?> result)
    {
        var offset = result.Offset.Value;
        SeekPass? passed = null;
        if (_seekSkip is not null && HeldBySeek(offset, out passed))
        {
            return;
        }

        if (Offsets.IsRepeat(offset))
        {
            return;
        }

        var message = result.Message;
        _parts.Metrics.OnConsumed(_parts.Route.Name, result.Topic, Number);
        _times.Dispatched(offset, message.Timestamp.UnixTimestampMs);
        Worker.Enqueue(new KafkaRecord(result.Topic, Number, offset, message.Timestamp.UnixTimestampMs, message.Key, message.Value, KafkaHeader.From(message.Headers))
        {
            PassedBySeek = passed,
            FetchedAt = _parts.Time.GetTimestamp(),
        });
    }

    /// <summary>A pause already applied takes the first held message as where fetching resumes, unless it has one.</summary>
    public void NoteHeldInPause()
    {
        if (_held >= 0 && _pause is { SeekTo: < 0 } pause)
        {
            _pause = pause with { SeekTo = _held };
            _held = -1;
        }
    }

    /// <summary>Forgets a held message (the pause is over).</summary>
    public void ClearHeld() => _held = -1;

    /// <summary>
    /// The operator's pause, once fetching is paused and the worker stopped: remembers where the partition resumes and
    /// the repeat filter (if still filtering) set up again then. The offsets restart at the resume; meanwhile they show,
    /// and commit, where the stopped worker left them.
    /// </summary>
    public void EnterPause()
    {
        var filtering = Offsets.EndFiltering();
        var seekTo = Offsets.RestartPosition;
        if (seekTo < 0 && _held >= 0)
        {
            seekTo = _held;
        }

        _held = -1;
        _pause = (seekTo, filtering);
    }

    /// <summary>
    /// Ends the operator's pause: new worker at the oldest unfinished offset (messages finished after it are fetched again
    /// but not delivered again). Throws <see cref="KafkaException"/> when the client refuses; tried again after the next poll.
    /// </summary>
    public void Resume(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_pause is not { } pause)
        {
            return;
        }

        RestartAt(consumer, pause.SeekTo, offsets => offsets.Restart(pause.Filtering?.Again()));
        if (Offsets.DoneBeforeRestart > 0)
        {
            Log.FinishedAheadRemembered(_parts.Logger, _parts.Route.Name, _parts.Member, Partition.Topic, Number, pause.SeekTo, "resume", Offsets.DoneBeforeRestart);
        }
    }

    /// <summary>
    /// Where an operator's seek would move the partition, or why it may not (unfinished messages the seek would pass
    /// without force); throws <see cref="SeekRefusedException"/> for a target outside the log.
    /// </summary>
    public (SeekMove? Move, long Fetched, string? Refusal) PlanSeek(IConsumer<byte[]?, byte[]?> consumer, SeekTarget target)
    {
        long to;
        try
        {
            to = Resolve(consumer, Partition, target);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new SeekRefusedException(400, ex.Message.Split(" (Parameter", 2)[0]);
        }

        var at = consumer.Position(Partition);
        var fetched = at.IsSpecial ? -1 : at.Value;
        var (unfinished, finishedAhead) = Offsets.Snapshot();
        var from = Offsets.OldestUnfinished;
        if (from < 0)
        {
            from = fetched >= 0 ? fetched : Offsets.CommitPosition;
        }

        // Messages fetched but held by a pause under way were never tracked: as unfinished as the tracked ones.
        var held = HeldFrom;
        if (held >= 0 && (from < 0 || held < from))
        {
            from = held;
        }

        var passed = unfinished.Where(o => o < to).ToList();
        if (held >= 0)
        {
            var tracked = Math.Max(unfinished.Length > 0 ? unfinished[^1] : -1, finishedAhead.Length > 0 ? finishedAhead[^1] : -1);
            for (var o = Math.Max(held, tracked + 1); o < Math.Min(to, fetched); o++)
            {
                passed.Add(o);
            }
        }

        if (passed.Count > 0 && !target.Force)
        {
            return (null, fetched, $"partition {Number}: offsets {DescribeOffsets(passed)} are not finished (delivered or skipped); a seek to {to} would pass them: " +
                "seek to " + from + " or earlier, or give \"force\": true to record each of them as skipped (kind seek)");
        }

        var unread = to > from ? Math.Max(0, to - Math.Max(from, fetched)) : 0;
        return (new SeekMove(Partition.Topic, Number, _parts.Member, from, to, target.Force ? passed : [], unread), fetched, null);
    }

    /// <summary>
    /// Moves the partition as an operator's seek planned, its worker stopped: the local record is discarded and no repeat
    /// filter set up, so replayed messages are delivered, not filtered. Unfinished messages a forward seek passes (only
    /// with force) are fetched again from the oldest of them and skipped with a skip record of kind <c>seek</c>; then
    /// fetching jumps to the target.
    /// </summary>
    public void MoveBySeek(IConsumer<byte[]?, byte[]?> consumer, long fetched, SeekMove move, SeekTarget target)
    {
        _seekSkip = null;
        _seekJump = false;
        var start = move.To;
        if (move.Skipped.Count > 0)
        {
            // Fetched again from the oldest passed message: each passed one is skipped with its record, those
            // finished ahead of it are not delivered twice, and at the fetch position fetching jumps to the target.
            var (_, finishedAhead) = Offsets.Snapshot();
            start = move.From;
            _seekSkip = new SeekSkip(move.From, move.To, fetched < 0 ? move.To : Math.Min(fetched, move.To), [.. finishedAhead], new SeekPass(move.To, target.By ?? "an operator"));
        }

        _parts.Committer.Rewind(Number);
        RestartAt(consumer, start, offsets => offsets.RestartAt(start));
        _oldest = null;
    }

    /// <summary>Moves fetching on to a forced seek's target once its passed messages were fetched again.</summary>
    private void JumpPastSeekSkip(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (!_seekJump)
        {
            return;
        }

        _seekJump = false;
        if (_seekSkip is not { } skip)
        {
            return;
        }

        try
        {
            consumer.Seek(new TopicPartitionOffset(Partition, skip.To));
        }
        catch (KafkaException ex)
        {
            Log.KafkaError(_parts.Logger, _parts.Route.Name, _parts.Member, $"seek of {Partition.Topic}/{Number} to {skip.To} failed: {ex.Error.Reason}");
        }
    }

    /// <summary>
    /// The check of each fetched message of a partition a forced seek moved: true when it is not to be dispatched as it
    /// is; <paramref name="passed"/> is set when it is to be skipped (kind seek) instead of delivered.
    /// </summary>
    private bool HeldBySeek(long offset, out SeekPass? passed)
    {
        passed = null;
        var skip = _seekSkip!;
        if (offset >= skip.To)
        {
            _seekSkip = null;
            return false;
        }

        if (offset < skip.From)
        {
            // Before the seek's start (a client's leftover): finished already.
            return true;
        }

        if (offset >= skip.FetchedTo)
        {
            // Never fetched before the seek: the seek passes it unread; fetching moves on to the target.
            _seekJump = true;
            return true;
        }

        if (skip.FinishedAhead.Contains(offset))
        {
            // Delivered before the seek: counted finished, not delivered again.
            Offsets.FinishRepeat(offset);
            return true;
        }

        passed = skip.Pass;
        return false;
    }

    /// <summary>The partition as the admin endpoint shows it; every value is local to the client (no request).</summary>
    public PartitionView View(IConsumer<byte[]?, byte[]?> consumer, DateTimeOffset now)
    {
        long position = -1, low = -1, high = -1;
        try
        {
            var at = consumer.Position(Partition);
            position = at.IsSpecial ? -1 : at.Value;
            var marks = consumer.GetWatermarkOffsets(Partition);
            low = marks.Low.IsSpecial ? -1 : marks.Low.Value;
            high = marks.High.IsSpecial ? -1 : marks.High.Value;
        }
        catch (KafkaException)
        {
            // Not known yet: shown as -1.
        }

        var committed = _parts.Committer.CommittedOf(Number) ?? _committedAtAssignment;
        if (high < 0)
        {
            high = _highAtAssignment;
        }

        var oldest = Offsets.OldestUnfinished;
        DateTimeOffset? since = null;
        if (oldest >= 0)
        {
            since = _oldest is { } seen && seen.Offset == oldest ? seen.Since : now;
            _oldest = (oldest, since.Value);
        }
        else
        {
            _oldest = null;
        }

        return new PartitionView(_parts.Route.Name, Partition.Topic, Number, _parts.Member, position, committed, high,
            Offsets.Pending, oldest, since, Worker.Uncommitted, Worker.WaitingForCommit, PartitionOffsets.Lag(low, high, committed))
        {
            LagFromMs = _times.LagFromMs(oldest, position, high),
        };
    }

    /// <summary>
    /// The partition is released: reports the repeat filter's total, forgets a seek's passage and closes the record.
    /// The worker is stopped by the caller (together with the other released ones).
    /// </summary>
    public void Release()
    {
        _seekSkip = null;
        _seekJump = false;
        Offsets.Close();
    }

    /// <summary>"22-24, 27" for a sorted list of offsets.</summary>
    internal static string DescribeOffsets(IReadOnlyList<long> offsets)
    {
        var parts = new List<string>();
        for (var i = 0; i < offsets.Count;)
        {
            var j = i;
            while (j + 1 < offsets.Count && offsets[j + 1] == offsets[j] + 1)
            {
                j++;
            }

            parts.Add(j == i ? offsets[i].ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{offsets[i]}-{offsets[j]}"));
            i = j + 1;
        }

        return string.Join(", ", parts);
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

    private PartitionWorker StartWorker()
    {
        var worker = new PartitionWorker(Partition, Offsets, _parts.Deliverer, _parts.InFlight, _parts.PendingBytes, _parts.Logger, _parts.Faulted, _parts.FetchChanged, _parts.PauseRequested);

        worker.Start();
        return worker;
    }

    /// <summary>A forced seek's passage over unfinished messages: those in From..FetchedTo not finished ahead are skipped.</summary>
    private sealed record SeekSkip(long From, long To, long FetchedTo, HashSet<long> FinishedAhead, SeekPass Pass);
}
