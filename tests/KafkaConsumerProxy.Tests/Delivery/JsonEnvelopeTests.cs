using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

public sealed class JsonEnvelopeTests
{
    [Fact]
    public void Single_TextKeyValueAndHeaders_ExactEnvelope()
    {
        var record = new KafkaRecord("orders", 3, 42, 1_700_000_000_123, "k-1"u8.ToArray(), "{\"a\":\"é\"}"u8.ToArray(),
            [new KafkaHeader("trace", "abc"u8.ToArray()), new KafkaHeader("trace", []), new KafkaHeader("none", null)]);

        var body = Encoding.UTF8.GetString(JsonEnvelope.Single(record));

        Assert.Equal(
            """{"topic":"orders","partition":3,"offset":42,"timestamp":1700000000123,"key":"k-1","value":"{\"a\":\"é\"}","headers":[{"key":"trace","value":"abc"},{"key":"trace","value":""},{"key":"none","value":null}]}""",
            body);
    }

    [Fact]
    public void Single_BinaryEmptyAndNull_Base64WithMarkerEmptyStringAndNull()
    {
        byte[] binary = [0x00, 0xFF, 0xC3, 0x28];
        var record = new KafkaRecord("t", 0, 1, 0, binary, null, [new KafkaHeader("bin", binary)]);

        var body = Encoding.UTF8.GetString(JsonEnvelope.Single(record));

        Assert.Equal(
            """{"topic":"t","partition":0,"offset":1,"timestamp":0,"key":"AP/DKA==","key_encoding":"base64","value":null,"headers":[{"key":"bin","value":"AP/DKA==","value_encoding":"base64"}]}""",
            body);
        Assert.Contains("\"value\":\"\"", Encoding.UTF8.GetString(JsonEnvelope.Single(record with { Key = null, Value = [] })), StringComparison.Ordinal);
    }

    [Fact]
    public void Single_ControlCharactersAndQuotes_EscapedSoTheTextRoundTrips()
    {
        var text = "line\n\"quoted\"\t\u0000 back\\slash <tag> & \u2028 中文 😀";
        var record = new KafkaRecord("t", 0, 0, 0, null, Encoding.UTF8.GetBytes(text));

        using var json = JsonDocument.Parse(JsonEnvelope.Single(record));

        Assert.Equal(text, json.RootElement.GetProperty("value").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("key").ValueKind);
        Assert.False(json.RootElement.TryGetProperty("value_encoding", out _));
        Assert.Equal(0, json.RootElement.GetProperty("headers").GetArrayLength());
    }

    [Fact]
    public void Single_RandomBytes_DecodeToTheSameBytes()
    {
        var random = new Random(11);
        for (var i = 0; i < 200; i++)
        {
            var value = new byte[random.Next(0, 64)];
            random.NextBytes(value);
            var record = new KafkaRecord("t", 0, i, 0, null, value);

            using var json = JsonDocument.Parse(JsonEnvelope.Single(record));

            Assert.Equal(value, Decode(json.RootElement, "value"));
        }
    }

    [Fact]
    public void Batch_SeveralRecords_ArrayOfEnvelopesInOrder()
    {
        KafkaRecord[] records = [new("t", 1, 7, 0, null, "a"u8.ToArray()), new("t", 1, 9, 0, null, "b"u8.ToArray())];

        using var json = JsonDocument.Parse(JsonEnvelope.Batch(records));

        Assert.Equal([7L, 9L], json.RootElement.EnumerateArray().Select(e => e.GetProperty("offset").GetInt64()));
        Assert.Equal(["a", "b"], json.RootElement.EnumerateArray().Select(e => e.GetProperty("value").GetString()));
    }

    [Fact]
    public void Single_AfterALargeValue_SmallBodiesStillExact()
    {
        var large = new KafkaRecord("t", 0, 0, 0, null, new byte[3 * 1024 * 1024]);
        var small = new KafkaRecord("t", 0, 1, 0, null, "x"u8.ToArray());

        using var json = JsonDocument.Parse(JsonEnvelope.Single(large));

        Assert.Equal(3 * 1024 * 1024, Decode(json.RootElement, "value")?.Length);
        Assert.Equal("""{"topic":"t","partition":0,"offset":1,"timestamp":0,"key":null,"value":"x","headers":[]}""", Encoding.UTF8.GetString(JsonEnvelope.Single(small)));
    }

    /// <summary>Reads a key, value or header value back to bytes the way an endpoint would.</summary>
    internal static byte[]? Decode(JsonElement envelope, string name)
    {
        var value = envelope.GetProperty(name);
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return envelope.TryGetProperty(name + "_encoding", out var encoding) && encoding.GetString() == "base64"
            ? value.GetBytesFromBase64()
            : Encoding.UTF8.GetBytes(value.GetString()!);
    }
}
