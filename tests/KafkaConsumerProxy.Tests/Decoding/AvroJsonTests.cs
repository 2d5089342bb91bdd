using System.Text.Json;
using Avro;
using Avro.Generic;
using Avro.IO;
using KafkaConsumerProxy.Decoding;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>
/// <see cref="AvroJson"/>: a datum written with Apache.Avro's generic writer and read back with its generic reader (as
/// kcp reads records) becomes the natural JSON of each type.
/// </summary>
public sealed class AvroJsonTests
{
    private const string OrderSchema = """
        {"type":"record","name":"Order","namespace":"shop","fields":[
          {"name":"id","type":"long"},
          {"name":"count","type":"int"},
          {"name":"name","type":"string"},
          {"name":"paid","type":"boolean"},
          {"name":"weight","type":"float"},
          {"name":"price","type":"double"},
          {"name":"blob","type":"bytes"},
          {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
          {"name":"hash","type":{"type":"fixed","name":"Hash","size":2}},
          {"name":"tags","type":{"type":"array","items":"string"}},
          {"name":"stock","type":{"type":"map","values":"int"}},
          {"name":"note","type":["null","string"]},
          {"name":"line","type":["null",{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"}]}]},
          {"name":"either","type":["int","string"]},
          {"name":"day","type":{"type":"int","logicalType":"date"}},
          {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
          {"name":"atMicros","type":{"type":"long","logicalType":"timestamp-micros"}},
          {"name":"time","type":{"type":"int","logicalType":"time-millis"}},
          {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
          {"name":"ref","type":{"type":"string","logicalType":"uuid"}},
          {"name":"nan","type":"double"}
        ]}
        """;

    [Fact]
    public void Write_EveryAvroType_NaturalJson()
    {
        var schema = (RecordSchema)Schema.Parse(OrderSchema);
        var order = new GenericRecord(schema);
        order.Add("id", 9_007_199_254_740_993L);
        order.Add("count", -3);
        order.Add("name", "Zoë \"quoted\"");
        order.Add("paid", true);
        order.Add("weight", 1.5f);
        order.Add("price", 12.25);
        order.Add("blob", new byte[] { 0, 1, 255 });
        order.Add("status", new GenericEnum((EnumSchema)schema["status"].Schema, "PAID"));
        order.Add("hash", new GenericFixed((FixedSchema)schema["hash"].Schema, [0xAB, 0xCD]));
        order.Add("tags", new object[] { "a", "b" });
        order.Add("stock", new Dictionary<string, object> { ["x"] = 1, ["y"] = 2 });
        order.Add("note", null);
        var lineSchema = (RecordSchema)((UnionSchema)schema["line"].Schema).Schemas[1];
        var line = new GenericRecord(lineSchema);
        line.Add("sku", "S-1");
        order.Add("line", line);
        order.Add("either", "text");
        order.Add("day", new DateTime(2024, 1, 31, 0, 0, 0, DateTimeKind.Utc));
        order.Add("at", new DateTime(2024, 1, 31, 12, 0, 0, 123, DateTimeKind.Utc));
        order.Add("atMicros", new DateTime(2024, 1, 31, 12, 0, 0, 123, DateTimeKind.Utc).AddTicks(4560));
        order.Add("time", new TimeSpan(0, 13, 14, 15, 16));
        order.Add("amount", new AvroDecimal(12.34m));
        order.Add("ref", Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"));
        order.Add("nan", double.NaN);

        using var json = JsonDocument.Parse(AvroJson.Write(schema, RoundTrip(schema, order)));
        var root = json.RootElement;

        Assert.Equal(9_007_199_254_740_993L, root.GetProperty("id").GetInt64());
        Assert.Equal(-3, root.GetProperty("count").GetInt32());
        Assert.Equal("Zoë \"quoted\"", root.GetProperty("name").GetString());
        Assert.True(root.GetProperty("paid").GetBoolean());
        Assert.Equal(1.5, root.GetProperty("weight").GetDouble());
        Assert.Equal(12.25, root.GetProperty("price").GetDouble());
        Assert.Equal([0, 1, 255], root.GetProperty("blob").GetBytesFromBase64());
        Assert.Equal("PAID", root.GetProperty("status").GetString());
        Assert.Equal([0xAB, 0xCD], root.GetProperty("hash").GetBytesFromBase64());
        Assert.Equal(["a", "b"], root.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(2, root.GetProperty("stock").GetProperty("y").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("note").ValueKind);
        Assert.Equal("S-1", root.GetProperty("line").GetProperty("sku").GetString());
        Assert.Equal("text", root.GetProperty("either").GetString());
        Assert.Equal("2024-01-31", root.GetProperty("day").GetString());
        Assert.Equal("2024-01-31T12:00:00.123Z", root.GetProperty("at").GetString());
        Assert.Equal("2024-01-31T12:00:00.123456Z", root.GetProperty("atMicros").GetString());
        Assert.Equal("13:14:15.016", root.GetProperty("time").GetString());
        Assert.Equal("12.34", root.GetProperty("amount").GetString());
        Assert.Equal("0f8fad5b-d9cb-469f-a165-70867728950e", root.GetProperty("ref").GetString());
        Assert.Equal("NaN", root.GetProperty("nan").GetString());
        Assert.Equal(schema.Fields.Select(f => f.Name), root.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Write_UnionOfIntAndString_TheIntBranchIsANumber()
    {
        var schema = Schema.Parse("""["null","int","string"]""");

        Assert.Equal("7", System.Text.Encoding.UTF8.GetString(AvroJson.Write(schema, RoundTrip(schema, 7))));
        Assert.Equal("null", System.Text.Encoding.UTF8.GetString(AvroJson.Write(schema, RoundTrip(schema, null))));
    }

    [Fact]
    public void Write_PrimitiveSchema_TheValueAlone()
    {
        var schema = Schema.Parse("\"string\"");

        Assert.Equal("\"héllo\"", System.Text.Encoding.UTF8.GetString(AvroJson.Write(schema, RoundTrip(schema, "héllo"))));
    }

    internal static object? RoundTrip(Schema schema, object? datum)
    {
        using var stream = new MemoryStream();
        new GenericDatumWriter<object?>(schema).Write(datum, new BinaryEncoder(stream));
        stream.Position = 0;
        return new GenericDatumReader<object>(schema, schema).Read(null!, new BinaryDecoder(stream));
    }
}
