using System.Buffers;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Percent-encoding of bytes outside RFC 3986's unreserved set, for form values (a space is <c>+</c>) and header
/// values (a space is <c>%20</c>): the one encoder of request bodies built whole (<see cref="RequestBuilder"/>) and
/// streamed (<see cref="FormContent"/>). Runs of unreserved bytes are found and copied whole.
/// </summary>
internal static class PercentEncoding
{
    /// <summary>Upper-case hexadecimal digits of an escape.</summary>
    public const string Hex = "0123456789ABCDEF";

    // The bytes an endpoint sees unencoded.
    private static readonly SearchValues<byte> Unreserved =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"u8);

    /// <summary>True for a byte of RFC 3986's unreserved set.</summary>
    public static bool IsUnreserved(byte b) => Unreserved.Contains(b);

    /// <summary>The encoded length of <paramref name="bytes"/>.</summary>
    public static long EncodedLength(ReadOnlySpan<byte> bytes, bool spaceAsPlus)
    {
        long length = bytes.Length;
        while (true)
        {
            var next = bytes.IndexOfAnyExcept(Unreserved);
            if (next < 0)
            {
                return length;
            }

            if (!spaceAsPlus || bytes[next] != (byte)' ')
            {
                length += 2;
            }

            bytes = bytes[(next + 1)..];
        }
    }

    /// <summary>
    /// Encodes as much of <paramref name="source"/> as fits into <paramref name="output"/> (never half an escape);
    /// returns the bytes written, and in <paramref name="consumed"/> the source bytes taken.
    /// </summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> output, bool spaceAsPlus, out int consumed)
    {
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
            if (spaceAsPlus && b == (byte)' ')
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
