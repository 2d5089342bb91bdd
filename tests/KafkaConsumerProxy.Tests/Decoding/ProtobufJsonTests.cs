using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using KafkaConsumerProxy.Decoding;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>
/// <see cref="ProtobufJson"/>: messages of Google.Protobuf's well-known types, serialized by Google.Protobuf, read back
/// against their descriptors give the JSON Google.Protobuf's own <see cref="JsonFormatter"/> writes (proto3 JSON).
/// </summary>
public sealed class ProtobufJsonTests
{
    internal static Google.Protobuf.WellKnownTypes.Type SampleType() => new()
    {
        Name = "shop.Order",
        Fields =
        {
            new Field { Name = "id", Number = 1, Kind = Field.Types.Kind.TypeInt64, Cardinality = Field.Types.Cardinality.Optional, JsonName = "id" },
            new Field { Name = "tags", Number = 2, Kind = Field.Types.Kind.TypeString, Cardinality = Field.Types.Cardinality.Repeated, Packed = true, OneofIndex = 3 },
        },
        Oneofs = { "choice", "ünïcode" },
        Options = { new Option { Name = "deprecated" } },
        SourceContext = new SourceContext { FileName = "shop/order.proto" },
        Syntax = Google.Protobuf.WellKnownTypes.Syntax.Proto3,
    };

    [Fact]
    public void Write_TypeWithNestedRepeatedAndEnums_AsJsonFormatterWritesIt()
    {
        var type = SampleType();

        AssertSameJson(type, Google.Protobuf.WellKnownTypes.Type.Descriptor);
    }

    [Fact]
    public void Write_ApiWithMethodsAndMixins_AsJsonFormatterWritesIt()
    {
        var api = new Api
        {
            Name = "shop.Orders", Version = "v1",
            Methods = { new Method { Name = "Get", RequestTypeUrl = "type.googleapis.com/shop.Req", ResponseStreaming = true } },
            Mixins = { new Mixin { Name = "m", Root = "r" } },
        };

        AssertSameJson(api, Api.Descriptor);
    }

    [Fact]
    public void Write_StructValueListAndWellKnownScalars_AsJsonFormatterWritesThem()
    {
        var structure = new Struct
        {
            Fields =
            {
                ["n"] = Value.ForNumber(1.5), ["s"] = Value.ForString("x"), ["b"] = Value.ForBool(true), ["null"] = Value.ForNull(),
                ["list"] = Value.ForList(Value.ForNumber(1), Value.ForString("two")), ["nested"] = Value.ForStruct(new Struct { Fields = { ["k"] = Value.ForString("v") } }),
            },
        };

        AssertSameJson(structure, Struct.Descriptor);
        AssertSameJson(Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 1, 31, 12, 0, 0, 123, TimeSpan.Zero)), Timestamp.Descriptor);
        AssertSameJson(new Timestamp { Seconds = 1_700_000_000 }, Timestamp.Descriptor);
        AssertSameJson(Duration.FromTimeSpan(TimeSpan.FromMilliseconds(1500)), Duration.Descriptor);
        AssertSameJson(new Int64Value { Value = 9_007_199_254_740_993L }, Int64Value.Descriptor);
        AssertSameJson(new BytesValue { Value = ByteString.CopyFrom(0, 1, 255) }, BytesValue.Descriptor);
        AssertSameJson(new FieldMask { Paths = { "source_context.file_name", "name" } }, FieldMask.Descriptor);
    }

    [Fact]
    public void Write_DescriptorProtoWithMapsOfNestedTypes_AsJsonFormatterWritesIt()
    {
        // descriptor.proto's own file: nested messages, repeated messages, enums, int32 and bool options.
        var proto = FileDescriptorProto.Parser.ParseFrom(TypeReflection.Descriptor.SerializedData);

        AssertSameJson(proto, FileDescriptorProto.Descriptor);
    }

    [Fact]
    public void Write_Any_TypeUrlAndTheBytesInBase64_NotResolved()
    {
        var any = Any.Pack(new BoolValue { Value = true });

        var json = JsonNode.Parse(ProtobufJson.Write(Any.Descriptor, any.ToByteArray(), 1))!;

        Assert.Equal("type.googleapis.com/google.protobuf.BoolValue", json["@type"]!.GetValue<string>());
        Assert.Equal(any.Value.ToBase64(), json["value"]!.GetValue<string>());
    }

    [Fact]
    public void Write_PayloadThatIsNotTheMessage_InvalidNamingTheType()
    {
        var failure = Assert.Throws<DecodeException>(() => ProtobufJson.Write(Google.Protobuf.WellKnownTypes.Type.Descriptor, [0x0A, 0x05, 0x61], 7));

        Assert.Equal(DecodeFailure.Invalid, failure.Failure);
        Assert.StartsWith("does not match google.protobuf.Type of Protobuf schema id 7", failure.Message, StringComparison.Ordinal);
    }

    private static void AssertSameJson(IMessage message, MessageDescriptor descriptor)
    {
        var expected = JsonNode.Parse(JsonFormatter.Default.Format(message));
        var actual = JsonNode.Parse(ProtobufJson.Write(descriptor, message.ToByteArray(), 1));

        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected?.ToJsonString()}\nactual   {actual?.ToJsonString()}");
    }
}
