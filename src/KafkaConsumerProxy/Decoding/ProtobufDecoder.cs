using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// Protobuf records in the Confluent wire format: after the magic byte and the schema id come the message indexes (a
/// zigzag varint count, then that many zigzag varints: the path to the message type in the schema's file, top-level
/// index first; a count of 0 means the first message), then the message. The payload is read against the descriptor
/// (<see cref="ProtobufSchemas"/>) by <see cref="ProtobufJson"/>: Google.Protobuf has no dynamic message, and
/// Confluent's Protobuf serdes is not used (it deserializes to generated classes only, and is not a dependency here).
/// </summary>
internal sealed class ProtobufDecoder(SchemaSource source)
{
    private readonly ProtobufSchemas _schemas = new(source);

    public async Task<byte[]> DecodeAsync(int id, byte[] bytes)
    {
        var file = await _schemas.FileAsync(id).ConfigureAwait(false);
        var afterHeader = bytes.AsSpan(WireFormat.HeaderBytes).ToArray();
        var input = new CodedInputStream(afterHeader);
        MessageDescriptor message;
        try
        {
            message = MessageType(file, input, id);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"has no readable message indexes after the header (Protobuf schema id {id}): {ex.Message}", ex);
        }

        return ProtobufJson.Write(message, afterHeader.AsSpan((int)input.Position).ToArray(), id);
    }

    private static MessageDescriptor MessageType(FileDescriptor file, CodedInputStream input, int id)
    {
        var count = Zigzag(input.ReadUInt32());
        if (count == 0)
            return file.MessageTypes.Count > 0 ? file.MessageTypes[0] : throw Missing(id, "[0]");
        if (count is < 0 or > 64)
            throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture, $"has {count} message indexes after the header (Protobuf schema id {id}); expected 0 to 64"));

        var path = new List<int>();
        IList<MessageDescriptor> types = file.MessageTypes;
        MessageDescriptor? message = null;
        for (var i = 0; i < count; i++)
        {
            var index = Zigzag(input.ReadUInt32());
            path.Add(index);
            if (index < 0 || index >= types.Count)
                throw Missing(id, $"[{string.Join(',', path)}]");
            message = types[index];
            types = message.NestedTypes;
        }

        return message!;
    }

    private static int Zigzag(uint value) => (int)(value >> 1) ^ -(int)(value & 1);

    private static DecodeException Missing(int id, string path) =>
        new(DecodeFailure.Invalid, $"names message {path}, which Protobuf schema id {id} does not have");
}
