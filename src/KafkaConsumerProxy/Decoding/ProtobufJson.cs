using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// Reads a Protobuf message against its descriptor and writes it in the proto3 JSON mapping: fields by their JSON names
/// in declaration order (only those present on the wire, as Google.Protobuf's formatter leaves out defaults), 64-bit
/// integers as strings, bytes base64, enums by name (the number when the schema does not name it), nested messages as
/// objects, repeated fields (packed or not) as arrays, maps as objects; the well-known types as their JSON forms:
/// <c>Timestamp</c> RFC 3339, <c>Duration</c> <c>"1.5s"</c>, the wrappers as their value, <c>Struct</c>,
/// <c>Value</c>, <c>ListValue</c> as JSON, <c>FieldMask</c> the paths joined, <c>Empty</c> <c>{}</c>, and <c>Any</c> as
/// <c>{"@type": url, "value": base64}</c> (its type is not resolved). A singular field given twice keeps the last
/// scalar and merges messages, as Protobuf parsers do; unknown fields are skipped. Written by hand because
/// Google.Protobuf has no dynamic message to parse into.
/// </summary>
internal static class ProtobufJson
{
    /// <summary>The JSON text of <paramref name="payload"/>, a message of type <paramref name="type"/>.</summary>
    public static byte[] Write(MessageDescriptor type, byte[] payload, int schemaId)
    {
        Message message;
        try
        {
            message = Read(type, payload);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidOperationException or ArgumentException)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"does not match {type.FullName} of Protobuf schema id {schemaId}: {ex.Message}", ex);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            WriteMessage(json, message);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A message as read: its fields by number, each value in wire order.</summary>
    private sealed class Message(MessageDescriptor type)
    {
        public MessageDescriptor Type { get; } = type;

        public SortedDictionary<int, List<object>> Fields { get; } = [];

        public object? Last(int number) => Fields.TryGetValue(number, out var values) ? values[^1] : null;
    }

    private static Message Read(MessageDescriptor type, byte[] payload, Message? into = null)
    {
        var message = into ?? new Message(type);
        var input = new CodedInputStream(payload);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = Google.Protobuf.WireFormat.GetTagFieldNumber(tag);
            var wire = Google.Protobuf.WireFormat.GetTagWireType(tag);
            var field = type.FindFieldByNumber(number);
            if (field is null || (wire != WireType(field.FieldType) && !(field.IsRepeated && wire == Google.Protobuf.WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType))))
            {
                input.SkipLastField();
                continue;
            }

            if (!message.Fields.TryGetValue(number, out var values))
                message.Fields[number] = values = [];
            if (field.IsRepeated && wire == Google.Protobuf.WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType))
            {
                var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
                while (!packed.IsAtEnd)
                    values.Add(ReadScalar(packed, field));
            }
            else if (field.FieldType == FieldType.Message)
            {
                var bytes = input.ReadBytes().ToByteArray();
                if (!field.IsRepeated && values.Count > 0)
                    Read(field.MessageType, bytes, (Message)values[^1]);
                else
                    values.Add(Read(field.MessageType, bytes));
            }
            else
            {
                if (!field.IsRepeated)
                    values.Clear();
                values.Add(ReadScalar(input, field));
            }
        }

        return message;
    }

    private static object ReadScalar(CodedInputStream input, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Double => input.ReadDouble(),
        FieldType.Float => input.ReadFloat(),
        FieldType.Int64 => input.ReadInt64(),
        FieldType.UInt64 => input.ReadUInt64(),
        FieldType.Int32 => input.ReadInt32(),
        FieldType.Fixed64 => input.ReadFixed64(),
        FieldType.Fixed32 => input.ReadFixed32(),
        FieldType.Bool => input.ReadBool(),
        FieldType.String => input.ReadString(),
        FieldType.Bytes => input.ReadBytes(),
        FieldType.UInt32 => input.ReadUInt32(),
        FieldType.SFixed32 => input.ReadSFixed32(),
        FieldType.SFixed64 => input.ReadSFixed64(),
        FieldType.SInt32 => input.ReadSInt32(),
        FieldType.SInt64 => input.ReadSInt64(),
        FieldType.Enum => (object)input.ReadEnum(),
        _ => throw new InvalidOperationException($"field {field.FullName} has the unsupported type {field.FieldType} (groups are not read)"),
    };

    private static bool IsPackable(FieldType type) => type is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static Google.Protobuf.WireFormat.WireType WireType(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => Google.Protobuf.WireFormat.WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => Google.Protobuf.WireFormat.WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => Google.Protobuf.WireFormat.WireType.LengthDelimited,
        FieldType.Group => Google.Protobuf.WireFormat.WireType.StartGroup,
        _ => Google.Protobuf.WireFormat.WireType.Varint,
    };

    private static void WriteMessage(Utf8JsonWriter json, Message message)
    {
        if (WriteWellKnown(json, message))
            return;

        json.WriteStartObject();
        foreach (var field in message.Type.Fields.InDeclarationOrder())
        {
            if (!message.Fields.TryGetValue(field.FieldNumber, out var values) || values.Count == 0)
                continue;
            json.WritePropertyName(field.JsonName);
            if (field.IsMap)
            {
                var keyField = field.MessageType.FindFieldByNumber(1);
                var valueField = field.MessageType.FindFieldByNumber(2);
                json.WriteStartObject();
                foreach (Message entry in values)
                {
                    json.WritePropertyName(MapKey(entry.Last(1) ?? Default(keyField)));
                    WriteValue(json, valueField, entry.Last(2) ?? Default(valueField));
                }

                json.WriteEndObject();
            }
            else if (field.IsRepeated)
            {
                json.WriteStartArray();
                foreach (var value in values)
                    WriteValue(json, field, value);
                json.WriteEndArray();
            }
            else
            {
                WriteValue(json, field, values[^1]);
            }
        }

        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, FieldDescriptor field, object value)
    {
        switch (value)
        {
            case Message message:
                WriteMessage(json, message);
                break;
            case int number when field.FieldType == FieldType.Enum:
                if (field.EnumType.FullName == "google.protobuf.NullValue")
                    json.WriteNullValue();
                else if (field.EnumType.FindValueByNumber(number) is { } named)
                    json.WriteStringValue(named.Name);
                else
                    json.WriteNumberValue(number);
                break;
            default:
                WriteScalar(json, value);
                break;
        }
    }

    private static void WriteScalar(Utf8JsonWriter json, object value)
    {
        switch (value)
        {
            case int i:
                json.WriteNumberValue(i);
                break;
            case uint u:
                json.WriteNumberValue(u);
                break;
            case long l:
                json.WriteStringValue(l.ToString(CultureInfo.InvariantCulture));
                break;
            case ulong ul:
                json.WriteStringValue(ul.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                JsonOutput.WriteNumber(json, d);
                break;
            case float f:
                JsonOutput.WriteNumber(json, f);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case ByteString bytes:
                json.WriteBase64StringValue(bytes.Span);
                break;
            case null:
                json.WriteNullValue();
                break;
        }
    }

    private static string MapKey(object key) => key switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => key.ToString() ?? "",
    };

    private static object Default(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => "",
        FieldType.Bytes => ByteString.Empty,
        FieldType.Bool => false,
        FieldType.Double => 0d,
        FieldType.Float => 0f,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => 0L,
        FieldType.UInt64 or FieldType.Fixed64 => 0UL,
        FieldType.UInt32 or FieldType.Fixed32 => 0U,
        FieldType.Message => new Message(field.MessageType),
        _ => 0,
    };

    // The well-known types that proto3 JSON writes in their own form; false for any other message.
    private static bool WriteWellKnown(Utf8JsonWriter json, Message message)
    {
        var type = message.Type;
        switch (type.FullName)
        {
            case "google.protobuf.Timestamp":
                var seconds = (long)(message.Last(1) ?? 0L);
                var nanos = (int)(message.Last(2) ?? 0);
                var at = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
                json.WriteStringValue(at.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + Fraction(nanos) + "Z");
                return true;
            case "google.protobuf.Duration":
                var whole = (long)(message.Last(1) ?? 0L);
                var part = (int)(message.Last(2) ?? 0);
                var sign = whole < 0 || part < 0 ? "-" : "";
                json.WriteStringValue(sign + Math.Abs(whole).ToString(CultureInfo.InvariantCulture) + Fraction(Math.Abs(part)) + "s");
                return true;
            case "google.protobuf.DoubleValue" or "google.protobuf.FloatValue" or "google.protobuf.Int64Value" or "google.protobuf.UInt64Value"
                or "google.protobuf.Int32Value" or "google.protobuf.UInt32Value" or "google.protobuf.BoolValue" or "google.protobuf.StringValue" or "google.protobuf.BytesValue":
                var valueField = type.FindFieldByNumber(1);
                WriteValue(json, valueField, message.Last(1) ?? Default(valueField));
                return true;
            case "google.protobuf.Struct":
                json.WriteStartObject();
                foreach (Message entry in message.Fields.GetValueOrDefault(1) ?? [])
                {
                    json.WritePropertyName((string)(entry.Last(1) ?? ""));
                    WriteMessage(json, entry.Last(2) as Message ?? new Message(type.FindFieldByNumber(1).MessageType.FindFieldByNumber(2).MessageType));
                }

                json.WriteEndObject();
                return true;
            case "google.protobuf.Value":
                var kind = message.Fields.Keys.LastOrDefault();
                if (kind == 0)
                    json.WriteNullValue();
                else
                    WriteValue(json, type.FindFieldByNumber(kind), message.Last(kind)!);
                return true;
            case "google.protobuf.ListValue":
                json.WriteStartArray();
                foreach (Message item in message.Fields.GetValueOrDefault(1) ?? [])
                    WriteMessage(json, item);
                json.WriteEndArray();
                return true;
            case "google.protobuf.FieldMask":
                json.WriteStringValue(string.Join(',', (message.Fields.GetValueOrDefault(1) ?? []).Cast<string>().Select(LowerCamel)));
                return true;
            case "google.protobuf.Any":
                json.WriteStartObject();
                json.WriteString("@type", (string)(message.Last(1) ?? ""));
                json.WriteBase64String("value", ((ByteString)(message.Last(2) ?? ByteString.Empty)).Span);
                json.WriteEndObject();
                return true;
            default:
                return false;
        }
    }

    // 0, 3, 6 or 9 fractional digits, as proto3 JSON writes them.
    private static string Fraction(int nanos) =>
        nanos == 0 ? "" : nanos % 1_000_000 == 0 ? "." + (nanos / 1_000_000).ToString("000", CultureInfo.InvariantCulture)
        : nanos % 1000 == 0 ? "." + (nanos / 1000).ToString("000000", CultureInfo.InvariantCulture)
        : "." + nanos.ToString("000000000", CultureInfo.InvariantCulture);

    private static string LowerCamel(string path) =>
        string.Join('.', path.Split('.').Select(segment =>
        {
            var parts = segment.Split('_');
            return parts[0] + string.Concat(parts.Skip(1).Select(p => p.Length == 0 ? "" : char.ToUpperInvariant(p[0]) + p[1..]));
        }));
}
