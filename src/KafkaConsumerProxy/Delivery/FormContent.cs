using System.Buffers;
using System.Net;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The form body of one message with a large value (<see cref="MinValueBytes"/> or more), written to the connection in
/// chunks while it is encoded instead of built as a second array first: the same bytes as
/// <see cref="RequestBuilder.FormBody"/>, with the same Content-Length. A 900 KB value behind a slow endpoint otherwise
/// held a 900 KB body beside it for each request in flight, a second large-object-heap allocation per message
/// (docs/PERFORMANCE.md, "Fix 6"). Can be written more than once (the client may resend it on a fresh connection).
/// </summary>
internal sealed class FormContent : HttpContent
{
    /// <summary>Values from this size on are streamed; smaller ones get a <see cref="ByteArrayContent"/> (cheaper per request).</summary>
    public const int MinValueBytes = 64 * 1024;

    // Under the large-object-heap threshold; the buffer is pooled.
    private const int ChunkBytes = 32 * 1024;

    // The bytes an endpoint sees unencoded; everything else (a space too: it is '+') takes the byte-wise path.
    private static readonly SearchValues<byte> Unreserved =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"u8);

    private readonly byte[] _value;
    private readonly byte[] _tail;
    private readonly long _length;

    /// <param name="value">The record's value, not copied.</param>
    /// <param name="tail"><c>&amp;p={partition}&amp;o={offset}</c>.</param>
    public FormContent(byte[] value, byte[] tail)
    {
        _value = value;
        _tail = tail;
        _length = 2 + EncodedLength(value) + tail.Length;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            "m="u8.CopyTo(buffer);
            var used = 2;
            var read = 0;
            while (read < _value.Length)
            {
                used += Encode(_value.AsSpan(read), buffer.AsSpan(used), out var consumed);
                read += consumed;
                if (read < _value.Length)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                    used = 0;
                }
            }

            if (buffer.Length - used < _tail.Length)
            {
                await stream.WriteAsync(buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                used = 0;
            }

            _tail.CopyTo(buffer.AsSpan(used));
            used += _tail.Length;
            await stream.WriteAsync(buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    /// <summary>Percent-encoded length of <paramref name="bytes"/> as a form value (a space is one '+').</summary>
    internal static long EncodedLength(ReadOnlySpan<byte> bytes)
    {
        long length = bytes.Length;
        while (true)
        {
            var next = bytes.IndexOfAnyExcept(Unreserved);
            if (next < 0)
            {
                return length;
            }

            if (bytes[next] != (byte)' ')
            {
                length += 2;
            }

            bytes = bytes[(next + 1)..];
        }
    }

    /// <summary>
    /// Encodes as much of <paramref name="source"/> as fits into <paramref name="output"/>, copying runs of unreserved
    /// bytes whole; returns the bytes written, and in <paramref name="consumed"/> the source bytes taken.
    /// </summary>
    internal static int Encode(ReadOnlySpan<byte> source, Span<byte> output, out int consumed)
    {
        const string Hex = "0123456789ABCDEF";
        var written = 0;
        consumed = 0;
        while (consumed < source.Length)
        {
            var rest = source[consumed..];
            var run = rest.IndexOfAnyExcept(Unreserved);
            if (run < 0)
            {
                run = rest.Length;
            }

            var copy = Math.Min(run, output.Length - written);
            rest[..copy].CopyTo(output[written..]);
            written += copy;
            consumed += copy;
            if (copy < run || consumed == source.Length || output.Length - written < 3)
            {
                return written;
            }

            var b = source[consumed++];
            if (b == (byte)' ')
            {
                output[written++] = (byte)'+';
            }
            else
            {
                output[written++] = (byte)'%';
                output[written++] = (byte)Hex[b >> 4];
                output[written++] = (byte)Hex[b & 0xF];
            }
        }

        return written;
    }
}
