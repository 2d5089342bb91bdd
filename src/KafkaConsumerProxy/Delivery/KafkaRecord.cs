using Confluent.Kafka;

namespace KafkaConsumerProxy.Delivery;

/// <summary>One consumed message, as the delivery layer sees it; key, value and header values are the exact bytes from the log.</summary>
internal sealed record KafkaRecord(
    string Topic,
    int Partition,
    long Offset,
    long TimestampMs,
    byte[]? Key,
    byte[]? Value,
    IReadOnlyList<KafkaHeader>? Headers = null)
{
    /// <summary>The record headers in log order (names may repeat); empty when the message has none.</summary>
    public IReadOnlyList<KafkaHeader> Headers { get; init; } = Headers ?? [];

    /// <summary>True when the message is replayed from a dead-letter topic (<c>kcp dlq replay</c>): sent with <c>X-Kafka-Replay: true</c>.</summary>
    public bool Replay { get; init; }

    /// <summary>The id of the range replay (<c>kcp replay</c>) that sends this message again: sent as <c>Kcp-Replay</c>; null otherwise.</summary>
    public string? ReplayId { get; init; }

    /// <summary>When the consume loop fetched it (<see cref="TimeProvider.GetTimestamp"/> of the route's clock); 0: not fetched by a route (a replay).</summary>
    public long FetchedAt { get; init; }

    /// <summary>Set when an operator's seek passed this unfinished message with force: it is skipped (kind <c>seek</c>), not delivered.</summary>
    public SeekPass? PassedBySeek { get; init; }

    /// <summary>
    /// Set on the copy made to be sent when the route decodes typed records (<see cref="RecordDecoding"/>): its key and
    /// value then hold JSON text, and these are the schema ids of their headers. Null on every record as consumed.
    /// </summary>
    public RecordSchemas? Schemas { get; init; }
}

/// <summary>The schema ids of a decoded key and value; null where that part was not decoded (or is null).</summary>
internal sealed record RecordSchemas(int? KeySchemaId, int? ValueSchemaId);

/// <summary>A forced seek to <paramref name="To"/> asked by <paramref name="By"/> passes the message.</summary>
internal sealed record SeekPass(long To, string By);

/// <summary>One record header. Kafka header names are case-sensitive and may repeat; a value may be null.</summary>
public readonly record struct KafkaHeader(string Name, byte[]? Value)
{
    /// <summary>Copies the client's headers; messages without headers share one empty list.</summary>
    public static IReadOnlyList<KafkaHeader> From(Headers? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return [];
        }

        var copy = new KafkaHeader[headers.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            var header = headers[i];
            copy[i] = new KafkaHeader(header.Key, header.GetValueBytes());
        }

        return copy;
    }
}
