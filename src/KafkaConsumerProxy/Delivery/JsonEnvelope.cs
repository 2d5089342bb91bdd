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
public static class JsonEnvelope
{
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
        json.WriteStartObject();
        json.WriteString("topic"u8, record.Topic);
        json.WriteNumber("partition"u8, record.Partition);
        json.WriteNumber("offset"u8, record.Offset);
        json.WriteNumber("timestamp"u8, record.TimestampMs);
        WriteBytes(json, "key"u8, "key_encoding"u8, record.Key);
        WriteBytes(json, "value"u8, "value_encoding"u8, record.Value);
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
