using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// One JSON writer and buffer per thread for request bodies (serialisation is synchronous, so they are reused instead
/// of made per request): <see cref="Rent"/>, write, then <see cref="Finish"/> for the bytes.
/// </summary>
internal static class ThreadJsonWriter
{
    /// <summary>A thread's buffer is dropped rather than kept once it grew past this (after a large message or batch).</summary>
    private const int MaxRetainedBuffer = 1024 * 1024;

    // Non-ASCII text is written as is rather than as \uXXXX: smaller bodies and less work. A body is never embedded in
    // HTML, which is what the stricter default guards against.
    internal static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>This thread's writer, reset to an empty buffer.</summary>
    public static Utf8JsonWriter Rent()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var json = t_writer ??= new Utf8JsonWriter(buffer, Options);
        json.Reset(buffer);
        return json;
    }

    /// <summary>What <paramref name="json"/> (from <see cref="Rent"/> on this thread) wrote, as a new array.</summary>
    public static byte[] Finish(Utf8JsonWriter json)
    {
        json.Flush();
        var buffer = t_buffer!;
        var body = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > MaxRetainedBuffer)
        {
            t_buffer = null;
            t_writer = null;
        }

        return body;
    }
}
