using System.Text.Json;
using System.Text.Unicode;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The body of <c>format: json</c>: one envelope per message,
/// <c>{"topic":"t","partition":0,"offset":5,"timestamp":1700000000000,"key":"k","value":"v","headers":[{"key":"h","value":"x"}]}</c>,
/// or a JSON array of envelopes for a batch. Key, value and header values are JSON strings holding the bytes as
/// UTF-8 text when they are valid UTF-8; otherwise they hold base64 and a sibling <c>{name}_encoding: "base64"</c>
/// says so (<c>key_encoding</c>, <c>value_encoding</c>, and <c>value_encoding</c> inside a header). A null key, value
/// or header value is JSON <c>null</c>; an empty one is <c>""</c>.
/// </summary>
internal static class JsonEnvelope
{
    // Property names of the streamed envelope, whose async writer cannot take spans.
    private static readonly byte[] KeyName = "key"u8.ToArray();
    private static readonly byte[] KeyEncodingName = "key_encoding"u8.ToArray();
    private static readonly byte[] ValueName = "value"u8.ToArray();
    private static readonly byte[] ValueEncodingName = "value_encoding"u8.ToArray();

    /// <summary>The envelope of one message.</summary>
    public static byte[] Single(KafkaRecord record)
    {
        var json = ThreadJsonWriter.Rent();
        Write(json, record);
        return ThreadJsonWriter.Finish(json);
    }

    /// <summary>A JSON array of the envelopes of <paramref name="records"/>, in the order given.</summary>
    public static byte[] Batch(IReadOnlyList<KafkaRecord> records)
    {
        var json = ThreadJsonWriter.Rent();
        json.WriteStartArray();
        for (var i = 0; i < records.Count; i++)
        {
            Write(json, records[i]);
        }

        json.WriteEndArray();
        return ThreadJsonWriter.Finish(json);
    }

    /// <summary>Writes one envelope object.</summary>
    public static void Write(Utf8JsonWriter json, KafkaRecord record)
    {
        WriteStart(json, record);
        if (record.Schemas is { } schemas)
        {
            WriteDecoded(json, "key"u8, "key_encoding"u8, "key_schema_id"u8, record.Key, schemas.KeySchemaId);
            WriteDecoded(json, "value"u8, "value_encoding"u8, "value_schema_id"u8, record.Value, schemas.ValueSchemaId);
        }
        else
        {
            WriteBytes(json, "key"u8, "key_encoding"u8, record.Key);
            WriteBytes(json, "value"u8, "value_encoding"u8, record.Value);
        }

        WriteEnd(json, record);
    }

    /// <summary>
    /// A decoded key or value (<c>key_format</c>, <c>value_format</c>) is JSON text, written as the JSON it holds (an
    /// object, not a string) with its schema id beside it (<c>value_schema_id</c>); a part that was not decoded (its
    /// format is bytes, or it is null) is written as usual.
    /// </summary>
    private static void WriteDecoded(Utf8JsonWriter json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> encodingName, ReadOnlySpan<byte> schemaIdName, byte[]? bytes, int? schemaId)
    {
        if (bytes is null || schemaId is not { } id)
        {
            WriteBytes(json, name, encodingName, bytes);
            return;
        }

        json.WritePropertyName(name);
        json.WriteRawValue(bytes, skipInputValidation: true);
        json.WriteNumber(schemaIdName, id);
    }

    // The envelope up to its key, and after its value: the same for the streamed one.
    private static void WriteStart(Utf8JsonWriter json, KafkaRecord record)
    {
        json.WriteStartObject();
        json.WriteString("topic"u8, record.Topic);
        json.WriteNumber("partition"u8, record.Partition);
        json.WriteNumber("offset"u8, record.Offset);
        json.WriteNumber("timestamp"u8, record.TimestampMs);
    }

    private static void WriteEnd(Utf8JsonWriter json, KafkaRecord record)
    {
        json.WriteStartArray("headers"u8);
        foreach (var header in record.Headers)
        {
            json.WriteStartObject();
            json.WriteString("key"u8, header.Name);
            WriteBytes(json, "value"u8, "value_encoding"u8, header.Value);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes the envelope of <paramref name="record"/> to <paramref name="stream"/> as <see cref="Single"/> makes it,
    /// its key and value in segments of 16 KiB with a flush after each, so that a large value is never held a second
    /// time as JSON (<see cref="JsonEnvelopeContent"/>).
    /// </summary>
    internal static async Task WriteStreamedAsync(Stream stream, KafkaRecord record, CancellationToken cancellationToken)
    {
        var json = new Utf8JsonWriter(stream, ThreadJsonWriter.Options);
        await using (json.ConfigureAwait(false))
        {
            if (record.Schemas is not null)
            {
                // Decoded JSON is written whole: it was made whole by the decoder anyway.
                Write(json, record);
                await json.FlushAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            WriteStart(json, record);
            await WriteSegmentsAsync(json, KeyName, KeyEncodingName, record.Key, cancellationToken).ConfigureAwait(false);
            await WriteSegmentsAsync(json, ValueName, ValueEncodingName, record.Value, cancellationToken).ConfigureAwait(false);
            WriteEnd(json, record);
            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    // As WriteBytes, the string (or base64) written in segments, each flushed to the stream.
    private static async Task WriteSegmentsAsync(Utf8JsonWriter json, byte[] name, byte[] encodingName, byte[]? bytes, CancellationToken cancellationToken)
    {
        const int Segment = 16 * 1024;
        if (bytes is null || bytes.Length <= Segment)
        {
            WriteBytes(json, name, encodingName, bytes);
            return;
        }

        var text = Utf8.IsValid(bytes);
        json.WritePropertyName(name);
        for (var start = 0; start < bytes.Length; start += Segment)
        {
            var segment = bytes.AsSpan(start, Math.Min(Segment, bytes.Length - start));
            var final = start + segment.Length == bytes.Length;
            if (text)
            {
                // A character split between two segments is completed by the next one.
                json.WriteStringValueSegment(segment, final);
            }
            else
            {
                json.WriteBase64StringSegment(segment, final);
            }

            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!text)
        {
            json.WriteString(encodingName, "base64"u8);
        }
    }

    private static void WriteBytes(Utf8JsonWriter json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> encodingName, byte[]? bytes)
    {
        if (bytes is null)
        {
            json.WriteNull(name);
        }
        else if (Utf8.IsValid(bytes))
        {
            // Written from the UTF-8 bytes directly, escaping only what JSON requires: no string in between.
            json.WriteString(name, bytes);
        }
        else
        {
            json.WriteBase64String(name, bytes);
            json.WriteString(encodingName, "base64"u8);
        }
    }
}
