using System.Globalization;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>A partition's log as the cluster reports it: its first offset and its end (the next offset to be written).</summary>
internal readonly record struct LogBounds(long Low, long High)
{
    /// <summary>True when a record whose next offset is <paramref name="nextOffset"/> lies inside the log: low ≤ next ≤ high.</summary>
    public bool Holds(long nextOffset) => nextOffset >= Low && nextOffset <= High;
}

/// <summary>Whether a partition's local record may be believed.</summary>
internal enum RecordTrust
{
    /// <summary>There is no record.</summary>
    None,

    /// <summary>Written for this cluster, and inside the partition's current log.</summary>
    Trusted,

    /// <summary>Inside the partition's current log, but the record's or the cluster's id is unknown (e.g. a record of an older kcp).</summary>
    TrustedClusterUnknown,

    /// <summary>Written for another cluster: ignored.</summary>
    OtherCluster,

    /// <summary>Outside the partition's current log (past its end, or before its start): ignored.</summary>
    OutsideLog,

    /// <summary>The log's bounds could not be read, so the record cannot be checked: ignored.</summary>
    LogUnknown,
}

/// <summary>What is known about one partition when it is assigned.</summary>
/// <param name="Committed">The group's committed offset; null when there is none or it could not be read.</param>
/// <param name="Record">The partition's local record; null when there is none.</param>
/// <param name="Log">The partition's log bounds; null when they could not be read.</param>
/// <param name="ClusterId">The id of the cluster consumed from; null when unknown.</param>
/// <param name="Mode">The route's delivery guarantee.</param>
/// <param name="UseSavedOffsetTime">The route's <c>use_saved_offset_time</c> in seconds; negative: never restore.</param>
/// <param name="Now">The current time, to tell the record's age.</param>
internal readonly record struct StartInputs(long? Committed, LocalRecord? Record, LogBounds? Log, string? ClusterId, DeliveryGuarantee Mode, int UseSavedOffsetTime, DateTimeOffset Now);

/// <summary>Where a partition starts, what is filtered as a repeat, and what is reported; see <see cref="StartPositionPolicy"/>.</summary>
/// <param name="Trust">The verdict on the local record.</param>
/// <param name="Inputs">What the decision was made from.</param>
/// <param name="SeekTo">The offset to start at; null: the committed offset (or auto.offset.reset when there is none, or it is outside the log).</param>
/// <param name="BehindBy">Messages that would repeat because the committed offset is behind a trusted record (offset behind); null when it is not.</param>
/// <param name="CommittedOutsideLog">The committed offset lies outside the log, so the consumer starts where auto.offset.reset says.</param>
internal sealed record StartPosition(RecordTrust Trust, StartInputs Inputs, long? SeekTo, long? BehindBy, bool CommittedOutsideLog)
{
    /// <summary>The local record when it is trusted (messages below its next offset are filtered as repeats); null otherwise.</summary>
    public LocalRecord? TrustedRecord => Trust is RecordTrust.Trusted or RecordTrust.TrustedClusterUnknown ? Inputs.Record : null;

    /// <summary>True when a record was found and is not trusted: it must be discarded so that new progress replaces it.</summary>
    public bool DiscardRecord => Inputs.Record is not null && TrustedRecord is null;

    /// <summary>The next offset already durable in the local store (the trusted record's), or -1.</summary>
    public long DurableFrom => TrustedRecord?.NextOffset ?? -1;

    /// <summary>True when the start is the trusted record (offset restored), which is also committed before anything is delivered.</summary>
    public bool Restored => SeekTo is not null;

    /// <summary>Logs the decision: the verdict on an untrusted record, offset behind, offset restored, a committed offset outside the log.</summary>
    /// <param name="logError">Why the log bounds are unknown, when they are.</param>
    public void Report(ILogger logger, string route, string topic, int partition, string cluster, string? logError)
    {
        var recordCluster = Inputs.Record?.ClusterId ?? "(unknown)";
        var clusterId = LocalRecord.StoredClusterId(Inputs.ClusterId) ?? "(unknown)";
        var low = Inputs.Log?.Low.ToString(CultureInfo.InvariantCulture) ?? "(unknown)";
        var high = Inputs.Log?.High.ToString(CultureInfo.InvariantCulture) ?? "(unknown)";
        if (Inputs.Record is { } record)
        {
            switch (Trust)
            {
                case RecordTrust.OtherCluster:
                    Log.LocalRecordOtherCluster(logger, route, topic, partition, recordCluster, record.LastDone, cluster, clusterId, low, high);
                    break;
                case RecordTrust.OutsideLog:
                    Log.LocalRecordOutsideLog(logger, route, topic, partition, record.LastDone, Inputs.Log!.Value.Low, Inputs.Log.Value.High, recordCluster, clusterId);
                    break;
                case RecordTrust.LogUnknown:
                    Log.LocalRecordUnchecked(logger, route, topic, partition, logError ?? "unknown error", record.LastDone, recordCluster, clusterId);
                    break;
                case RecordTrust.TrustedClusterUnknown:
                    Log.LocalRecordClusterUnchecked(logger, route, topic, partition, record.LastDone, Inputs.Log!.Value.Low, Inputs.Log.Value.High, recordCluster, clusterId);
                    break;
            }
        }

        if (BehindBy is { } count && TrustedRecord is { } trusted)
        {
            Log.OffsetBehind(logger, route, topic, partition, Inputs.Committed?.ToString(CultureInfo.InvariantCulture) ?? "(none)", trusted.LastDone, count);
            if (SeekTo is { } seek)
            {
                Log.OffsetRestored(logger, route, topic, partition, seek, (Inputs.Now - trusted.Updated).TotalSeconds);
            }
        }

        if (CommittedOutsideLog)
        {
            Log.CommittedOutsideLog(logger, route, topic, partition, Inputs.Committed!.Value, Inputs.Log!.Value.Low, Inputs.Log.Value.High);
        }
    }
}

/// <summary>
/// Decides where an assigned partition starts from the group's committed offset, the machine's local record, the
/// partition's log bounds (watermarks) and the cluster's id. Pure: no I/O, so every branch is unit-tested.
/// <para>
/// A local record is evidence about one partition of one cluster. It is trusted only when it was written for this
/// cluster (or either id is unknown) and lies inside the partition's current log: low watermark ≤ its next offset ≤
/// high watermark. A record of another cluster, or outside the log (a replaced cluster, a topic deleted and recreated,
/// <c>kcp offsets set --force</c> past the end), is ignored: nothing is filtered, restored or committed from it.
/// </para>
/// <para>
/// When the log bounds cannot be read, the record is not trusted at all, for filtering neither: a record that cannot
/// be checked against the log could belong to a topic that was deleted and recreated on the same cluster (same cluster
/// id), and filtering would then drop new messages unseen. Delivering them again is recoverable (every request carries
/// an idempotency key); dropping them is not.
/// </para>
/// <para>
/// With a trusted record: a committed offset behind it (or none) is <em>offset behind</em>; messages below the record
/// are filtered as repeats; and in mode 3, or when the record is at least <c>use_saved_offset_time</c> seconds old,
/// the partition starts at the record instead (offset restored) — always inside the log, since the record is.
/// </para>
/// </summary>
internal static class StartPositionPolicy
{
    /// <summary>The verdict on <paramref name="record"/> for the cluster <paramref name="clusterId"/> whose partition holds <paramref name="log"/>.</summary>
    public static RecordTrust Judge(LocalRecord? record, LogBounds? log, string? clusterId)
    {
        if (record is not { } r)
        {
            return RecordTrust.None;
        }

        var current = LocalRecord.StoredClusterId(clusterId);
        if (r.ClusterId is not null && current is not null && !string.Equals(r.ClusterId, current, StringComparison.Ordinal))
        {
            return RecordTrust.OtherCluster;
        }

        if (log is not { } bounds)
        {
            return RecordTrust.LogUnknown;
        }

        if (!bounds.Holds(r.NextOffset))
        {
            return RecordTrust.OutsideLog;
        }

        return r.ClusterId is null || current is null ? RecordTrust.TrustedClusterUnknown : RecordTrust.Trusted;
    }

    public static StartPosition Decide(StartInputs inputs)
    {
        var trust = Judge(inputs.Record, inputs.Log, inputs.ClusterId);
        var committedOutside = inputs is { Committed: { } c, Log: { } log } && !log.Holds(c);
        if (trust is not (RecordTrust.Trusted or RecordTrust.TrustedClusterUnknown))
        {
            return new StartPosition(trust, inputs, SeekTo: null, BehindBy: null, committedOutside);
        }

        var record = inputs.Record!.Value;
        var bounds = inputs.Log!.Value;
        long? behindBy = null;
        long? seekTo = null;
        // Without a committed offset (or one before the log start) the consumer starts at the log start
        // (auto.offset.reset=earliest, kcp's default).
        var repeats = record.NextOffset - Math.Max(inputs.Committed ?? bounds.Low, bounds.Low);
        if (repeats > 0)
        {
            behindBy = repeats;
            var age = inputs.Now - record.Updated;
            if (inputs.Mode == DeliveryGuarantee.NoRepeatOnOneMachine
                || (inputs.UseSavedOffsetTime >= 0 && age.TotalSeconds >= inputs.UseSavedOffsetTime))
            {
                seekTo = record.NextOffset;
            }
        }

        return new StartPosition(trust, inputs, seekTo, behindBy, committedOutside);
    }
}
