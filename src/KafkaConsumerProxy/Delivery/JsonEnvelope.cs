using System.Buffers;
using System.Text.Encodings.Web;
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
    /// <summary>A thread's buffer is dropped rather than kept once it grew past this (after a large message).</summary>
    private const int MaxRetainedBuffer = 1024 * 1024;

    // Non-ASCII text is written as is rather than as \uXXXX: smaller bodies and less work. The body is never
    // embedded in HTML, which is what the stricter default guards against.
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    // Serialisation is synchronous, so one writer per thread is reused instead of one per request.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The envelope of one message.</summary>
    public static byte[] Single(KafkaRecord record)
    {
        var (buffer, json) = Rent();
        Write(json, record);
        return Finish(buffer, json);
    }

    /// <summary>A JSON array of the envelopes of <paramref name="records"/>, in the order given.</summary>
    public static byte[] Batch(IReadOnlyList<KafkaRecord> records)
    {
        var (buffer, json) = Rent();
        json.WriteStartArray();
        for (var i = 0; i < records.Count; i++)
        {
            Write(json, records[i]);
        }

        json.WriteEndArray();
        return Finish(buffer, json);
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

    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Json) Rent()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var json = t_writer ??= new Utf8JsonWriter(buffer, Options);
        json.Reset(buffer);
        return (buffer, json);
    }

    private static byte[] Finish(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json)
    {
        json.Flush();
        var body = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > MaxRetainedBuffer)
        {
            t_buffer = null;
            t_writer = null;
        }

        return body;
    }
}
