using System.Collections.Concurrent;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>A message being retried: the head of line of its partition (sync) or one of its failing messages (async).</summary>
/// <param name="LastOutcome">The last attempt's outcome as the metrics label it (<c>bad_status</c>, <c>timeout</c>, ...).</param>
internal sealed record FailingMessage(
    string Route,
    string Topic,
    int Partition,
    long Offset,
    string? Key,
    int Attempts,
    DateTimeOffset FailingSince,
    string LastOutcome,
    int? LastStatus,
    string? LastBody,
    string LastReason)
{
    /// <summary>Every offset the failing request carries, in order: the message's own, or each of a batch's (shown, skipped and retried with its first).</summary>
    public IReadOnlyList<long> Offsets { get; init; } = [];

    /// <summary>
    /// When its next attempt is due (after its retry interval or <c>Retry-After</c>; an open circuit breaker may hold it
    /// longer); null while none is scheduled (an attempt is being made, or the message is being skipped).
    /// </summary>
    public DateTimeOffset? NextAttemptAt { get; init; }
}

/// <summary>
/// The operator's handles on the messages being retried now: the admin API skips one or ends its wait
/// (<c>POST .../partitions/{p}/skip|retry</c>), shows them, and the metrics count them (<c>kcp.messages.blocked</c>).
/// Written by the <see cref="MessageDeliverer"/>s it is given to; thread-safe.
/// </summary>
internal sealed class FailingMessages
{
    private readonly ConcurrentDictionary<(string Route, int Partition, long Offset), FailingEntry> _failing = new();

    /// <summary>Every message being retried now.</summary>
    public IReadOnlyList<FailingMessage> All(string? route = null) =>
        [.. _failing.Values.Select(e => e.Snapshot()).Where(f => route is null || f.Route == route).OrderBy(f => f.Route, StringComparer.Ordinal).ThenBy(f => f.Partition).ThenBy(f => f.Offset)];

    /// <summary>Records a failed attempt of <paramref name="record"/>; the entry lives until <see cref="Finished"/>.</summary>
    /// <param name="offsets">Every offset of the failing request (a batch's, its first being <paramref name="record"/>'s).</param>
    internal FailingEntry Failed(string route, KafkaRecord record, int attempt, DeliveryResult result, DateTimeOffset now, IReadOnlyList<long> offsets)
    {
        // A new entry is made complete (the API may read it as soon as it is added); a known one is updated.
        FailingEntry? made = null;
        var entry = _failing.GetOrAdd((route, record.Partition, record.Offset), _ => made = new FailingEntry(route, record, now, attempt, result, offsets));
        if (!ReferenceEquals(entry, made))
        {
            entry.Update(attempt, result, offsets);
        }

        return entry;
    }

    internal void Finished(FailingEntry? entry)
    {
        if (entry is not null)
        {
            _failing.TryRemove(new KeyValuePair<(string, int, long), FailingEntry>((entry.Route, entry.Record.Partition, entry.Record.Offset), entry));
        }
    }

    /// <summary>The failing entry of that message, if it is being retried now.</summary>
    internal FailingEntry? Find(string route, int partition, long offset) => _failing.TryGetValue((route, partition, offset), out var e) ? e : null;
}
