using System.Net;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The JSON envelope of one message with a large value (<see cref="MinValueBytes"/> or more), written to the connection
/// in segments as it is produced instead of built as an array first: the same bytes as <see cref="JsonEnvelope.Single"/>,
/// with a Content-Length (found by producing the envelope once into a counter). A 900 KB value otherwise held its
/// envelope beside it for each request in flight, plus the writer's growing buffer (docs/PERFORMANCE-LAB.md, "Fix 6").
/// Can be written more than once (the client may resend it on a fresh connection).
/// </summary>
internal sealed class JsonEnvelopeContent(KafkaRecord record) : HttpContent
{
    /// <summary>Values from this size on are streamed; smaller ones get a <see cref="ByteArrayContent"/> (cheaper per request).</summary>
    public const int MinValueBytes = FormContent.MinValueBytes;

    private long _length = -1;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        JsonEnvelope.WriteStreamedAsync(stream, record, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        JsonEnvelope.WriteStreamedAsync(stream, record, cancellationToken);

    protected override bool TryComputeLength(out long length)
    {
        if (_length < 0)
        {
            using var counter = new CountingStream();
            // Completes synchronously: the counter's writes and flushes do.
            JsonEnvelope.WriteStreamedAsync(counter, record, CancellationToken.None).GetAwaiter().GetResult();
            _length = counter.Length;
        }

        length = _length;
        return true;
    }

    /// <summary>A write-only stream that keeps nothing but the number of bytes written.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _length += count;
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
