using System.Text.Json;
using System.Text.Json.Serialization;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Fleet;

/// <summary>
/// One record of the control topic, as JSON: what <see cref="Type"/> says, with the fields that type needs. Its key
/// (<see cref="ControlKeys"/>) makes the latest record of a key win, on the topic and after compaction; the order of
/// records is the topic's, never a clock's (the times in them are only shown).
/// </summary>
internal sealed record ControlRecord
{
    /// <summary>The format's version; a record of another version is foreign.</summary>
    public const int CurrentVersion = 1;

    public const string RouteIntent = "route_intent", PartitionIntent = "partition_intent", Result = "result", Status = "status", Audit = "audit";

    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public int V { get; init; } = CurrentVersion;

    public required string Type { get; init; }

    /// <summary>The instance that wrote it.</summary>
    public string? Instance { get; init; }

    /// <summary>Who asked (the operator as the admin endpoint or the control socket names them).</summary>
    public string? By { get; init; }

    /// <summary>When, by the writer's clock: shown, never used to order.</summary>
    public DateTimeOffset? At { get; init; }

    public string? Route { get; init; }

    public string? Group { get; init; }

    /// <summary>A route intent: the operator's pause (true) or its resume (false); null when it is about the stop.</summary>
    public bool? Paused { get; init; }

    /// <summary>A route intent: the operator's stop (true) or its start (false); null when it is about the pause.</summary>
    public bool? Stopped { get; init; }

    public int? Partition { get; init; }

    public long? Offset { get; init; }

    /// <summary>A partition intent: skip, retry or seek.</summary>
    public string? Action { get; init; }

    /// <summary>A partition intent's id, which its result names.</summary>
    public string? Id { get; init; }

    /// <summary>A partition intent: the instance that owned the partition when it was asked (it alone may answer "not failing").</summary>
    public string? Target { get; init; }

    /// <summary>A result: skipped, retrying, not_failing, skip_pending; of a seek: moved or refused.</summary>
    public string? Outcome { get; init; }

    /// <summary>A seek intent: where the partition goes.</summary>
    public SeekIntent? Seek { get; init; }

    /// <summary>A seek's result "moved": the move its owner made.</summary>
    public IReadOnlyList<SeekMove>? Moves { get; init; }

    /// <summary>A seek's result "refused": the HTTP status of the refusal at the owner (400, 409, 503).</summary>
    public int? Code { get; init; }

    /// <summary>A seek's result "refused": why, as the owner said it.</summary>
    public string? Error { get; init; }

    /// <summary>A result: the message as its owner saw it.</summary>
    public FailingMessage? Message { get; init; }

    /// <summary>A result "not_failing": what the owner retries on that partition now.</summary>
    public IReadOnlyList<FailingMessage>? Failing { get; init; }

    /// <summary>A status (heartbeat).</summary>
    public InstanceStatus? Heartbeat { get; init; }

    /// <summary>An audit entry.</summary>
    public AuditEntry? Entry { get; init; }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>The record in <paramref name="value"/>, or why it is not one of kcp's.</summary>
    public static (ControlRecord? Record, string? Problem) Parse(byte[] value)
    {
        ControlRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<ControlRecord>(value, Json);
        }
        catch (JsonException ex)
        {
            return (null, "not kcp's JSON: " + ex.Message);
        }

        if (record is null || record.V != CurrentVersion)
            return (null, $"format version {record?.V} (this kcp reads {CurrentVersion})");
        var complete = record.Type switch
        {
            RouteIntent => record.Route is not null && record.Group is not null && (record.Paused is null) != (record.Stopped is null),
            PartitionIntent => record.Route is not null && record.Group is not null && record.Partition is >= 0 && record.Id is not null
                && ((record.Offset is >= 0 && record.Action is "skip" or "retry") || (record.Action is "seek" && record.Seek is not null)),
            Result => record.Id is not null && record.Outcome is not null,
            Status => record.Heartbeat is { Id: not null },
            Audit => record.Entry is not null,
            _ => false,
        };
        return complete ? (record, null) : (null, $"type '{record.Type}' without the fields it needs");
    }
}

/// <summary>The keys of the control topic: <c>kcp/{kind}/...</c>; the latest record of a key wins.</summary>
internal static class ControlKeys
{
    public const string Prefix = "kcp/";

    /// <summary>The pause (<paramref name="what"/> = pause) or stop (= stop) of a route of a group.</summary>
    public static string RouteIntent(string group, string route, string what) => $"{Prefix}intent/{group}/{route}/{what}";

    public static string PartitionIntent(string group, string route, int partition, long offset, string action) =>
        $"{Prefix}intent/{group}/{route}/{partition}/{offset}/{action}";

    public static string Result(string id) => $"{Prefix}result/{id}";

    /// <summary>A seek of one partition, one key per request: answered, it is deleted.</summary>
    public static string SeekIntent(string group, string route, int partition, string id) => $"{Prefix}intent/{group}/{route}/{partition}/seek/{id}";

    public static string Status(string instance) => $"{Prefix}status/{instance}";

    public static string Audit(string id) => $"{Prefix}audit/{id}";
}

/// <summary>Where a seek intent moves its partition: an offset, a time or earliest/latest (one of them); with force, past unfinished messages.</summary>
internal sealed record SeekIntent(long? Offset, DateTimeOffset? Timestamp, string? Position, bool Force);

/// <summary>One instance's heartbeat: who it is and what it runs now.</summary>
/// <param name="Id">host/pid/start time: unique per run of kcp.</param>
/// <param name="Left">Written once at a clean stop: the instance is gone without waiting for its silence.</param>
internal sealed record InstanceStatus(string Id, string Host, int Pid, DateTimeOffset Started, string Version, bool Left, IReadOnlyList<RouteHeartbeat> Routes);

/// <summary>One route as an instance runs it.</summary>
internal sealed record RouteHeartbeat(string Route, string Group, string Topic, string State, double DeliveredPerSecond, IReadOnlyList<FleetPartition> Partitions);

/// <summary>One partition an instance owns, with its offsets, lag and failing messages.</summary>
internal sealed record FleetPartition(
    string Topic,
    int Partition,
    int Member,
    long NextOffset,
    long CommittedOffset,
    long HighWatermark,
    long Lag,
    int InFlight,
    long OldestUnfinishedOffset,
    DateTimeOffset? OldestUnfinishedSince,
    long Uncommitted,
    bool WaitingForCommit,
    IReadOnlyList<FailingMessage> Failing);

/// <summary>One action of an operator on any instance of the fleet.</summary>
internal sealed record AuditEntry(DateTimeOffset Time, string Instance, string Who, string Method, string Path, int Status, string Result);
