using System.Buffers.Binary;
using System.Globalization;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the payload (for
/// Protobuf, the message indexes come first).
/// </summary>
internal static class WireFormat
{
    /// <summary>The magic byte and the schema id.</summary>
    public const int HeaderBytes = 5;

    /// <summary>The schema id of <paramref name="bytes"/>, or why they are not in the wire format.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out int schemaId, out string problem)
    {
        schemaId = -1;
        problem = "";
        if (bytes.Length < HeaderBytes)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"is not in the Confluent wire format: {bytes.Length} byte(s), shorter than the 5-byte header (magic byte 0 and a 4-byte schema id)");
            return false;
        }

        if (bytes[0] != 0)
        {
            problem = string.Create(CultureInfo.InvariantCulture, $"is not in the Confluent wire format: its first byte is 0x{bytes[0]:X2}, not the magic byte 0x00");
            return false;
        }

        schemaId = BinaryPrimitives.ReadInt32BigEndian(bytes[1..]);
        return true;
    }
}
