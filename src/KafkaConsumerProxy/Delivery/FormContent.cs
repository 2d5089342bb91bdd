using System.Buffers;
using System.Net;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The form body of one message with a large value (<see cref="MinValueBytes"/> or more), written to the connection in
/// chunks while it is encoded instead of built as a second array first: the same bytes as
/// <see cref="RequestBuilder.FormBody"/>, with the same Content-Length. A 900 KB value behind a slow endpoint otherwise
/// held a 900 KB body beside it for each request in flight, a second large-object-heap allocation per message
/// (docs/PERFORMANCE-LAB.md, "Fix 6"). Can be written more than once (the client may resend it on a fresh connection).
/// </summary>
internal sealed class FormContent : HttpContent
{
    /// <summary>Values from this size on are streamed; smaller ones get a <see cref="ByteArrayContent"/> (cheaper per request).</summary>
    public const int MinValueBytes = 64 * 1024;

    // Under the large-object-heap threshold; the buffer is pooled.
    private const int ChunkBytes = 32 * 1024;

    private readonly byte[] _value;
    private readonly byte[] _tail;
    private readonly long _length;

    /// <param name="value">The record's value, not copied.</param>
    /// <param name="tail"><c>&amp;p={partition}&amp;o={offset}</c>.</param>
    public FormContent(byte[] value, byte[] tail)
    {
        _value = value;
        _tail = tail;
        _length = 2 + PercentEncoding.EncodedLength(value, spaceAsPlus: true) + tail.Length;
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
                used += PercentEncoding.Encode(_value.AsSpan(read), buffer.AsSpan(used), spaceAsPlus: true, out var consumed);
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
}
