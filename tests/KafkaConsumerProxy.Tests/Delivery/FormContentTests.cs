using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>A large value's form body is streamed (no second copy of the value), byte for byte the body built in one array.</summary>
public sealed class FormContentTests
{
    private static readonly Uri Target = new("http://127.0.0.1:8080/consume");

    public static TheoryData<string, int> Values => new()
    {
        // Name, length: unreserved runs that cross the 32 KiB chunks, the 3-byte escapes at a chunk's end, spaces.
        { "letters", FormContent.MinValueBytes },
        { "letters", 900_000 },
        { "binary", FormContent.MinValueBytes + 1 },
        { "binary", 300_001 },
        { "mixed", 200_003 },
        { "spaces", 100_000 },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public async Task Build_FormWithLargeValue_SameBodyAndLengthAsOneArray_Issue7(string kind, int length)
    {
        var record = new KafkaRecord("orders", 7, 123_456_789_012, 1_700_000_000_000, "k"u8.ToArray(), Value(kind, length), []);
        var builder = new RequestBuilder(TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = RequestFormat.Form } });

        using var request = builder.Build(Target, record);

        Assert.IsType<FormContent>(request.Content);
        await StreamedBody.AssertStreamedAsync(request.Content, RequestBuilder.FormBody(record), "application/x-www-form-urlencoded");
    }

    [Fact]
    public void Build_FormWithValueUnderTheThreshold_OneArray()
    {
        var record = new KafkaRecord("orders", 0, 1, 0, null, Value("letters", FormContent.MinValueBytes - 1), []);

        using var request = new RequestBuilder(TestRoutes.Route()).Build(Target, record);

        Assert.IsType<ByteArrayContent>(request.Content);
    }

    [Fact]
    public void Encode_OutputTooSmallForAnEscape_StopsBeforeIt()
    {
        var output = new byte[4];

        var written = PercentEncoding.Encode("ab\u0001c"u8, output, spaceAsPlus: true, out var consumed);

        // "ab" fits, "%01" would need 3 of the 2 bytes left.
        Assert.Equal(2, written);
        Assert.Equal(2, consumed);
        Assert.Equal(3 + 1, PercentEncoding.Encode("\u0001c"u8, output, spaceAsPlus: true, out consumed));
        Assert.Equal(2, consumed);
        Assert.Equal("%01c"u8.ToArray(), output);
    }

    private static byte[] Value(string kind, int length)
    {
        var value = new byte[length];
        for (var i = 0; i < length; i++)
        {
            value[i] = kind switch
            {
                "letters" => (byte)('a' + (i % 26)),
                "binary" => (byte)(i * 7919 % 256),
                "spaces" => i % 3 == 0 ? (byte)' ' : (byte)'x',
                // Runs of unreserved bytes of varying length between escapes.
                _ => i % 97 == 0 || i % 1013 == 0 ? (byte)'&' : (byte)('A' + (i % 26)),
            };
        }

        return value;
    }
}

/// <summary>A large value's JSON envelope is streamed in segments, byte for byte the envelope built in one array.</summary>
public sealed class JsonEnvelopeContentTests
{
    private static readonly Uri Target = new("http://127.0.0.1:8080/consume");

    public static TheoryData<string> Kinds => ["letters", "binary", "multibyte", "escapes"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Build_JsonWithLargeValue_SameBodyAndLengthAsOneArray_Issue7(string kind)
    {
        var value = Value(kind, 300_001);
        // A large key is written in segments as well; headers whole.
        var record = new KafkaRecord("orders", 3, 42, 1_700_000_000_000, Value(kind, 70_000), value,
            [new KafkaHeader("trace", "a\"b"u8.ToArray()), new KafkaHeader("bin", [0xFF]), new KafkaHeader("none", null)]);
        var builder = new RequestBuilder(TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = RequestFormat.Json } });

        using var request = builder.Build(Target, record);

        Assert.IsType<JsonEnvelopeContent>(request.Content);
        await StreamedBody.AssertStreamedAsync(request.Content, JsonEnvelope.Single(record), "application/json");
    }

    [Fact]
    public void Build_JsonWithValueUnderTheThreshold_OneArray()
    {
        var record = new KafkaRecord("orders", 0, 1, 0, null, new byte[JsonEnvelopeContent.MinValueBytes - 1], []);

        using var request = new RequestBuilder(TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = RequestFormat.Json } }).Build(Target, record);

        Assert.IsType<ByteArrayContent>(request.Content);
    }

    private static byte[] Value(string kind, int length)
    {
        switch (kind)
        {
            case "letters":
                return [.. Enumerable.Range(0, length).Select(i => (byte)('a' + (i % 26)))];
            case "binary":
                return [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7919 % 256))];
            default:
                // Two-, three- and four-byte characters that fall across the 16 KiB segments, or what JSON escapes.
                var unit = kind == "multibyte" ? "aé€😀" : "x\"\\\n\u0001<";
                var unitBytes = System.Text.Encoding.UTF8.GetBytes(unit);
                return [.. Enumerable.Repeat(unitBytes, (length / unitBytes.Length) + 1).SelectMany(b => b)];
        }
    }
}

/// <summary>What the streamed-body tests check of a content.</summary>
internal static class StreamedBody
{
    // The streamed content has the built body's bytes and length, written twice: the client may write the same content
    // again on a fresh connection.
    public static async Task AssertStreamedAsync(HttpContent content, byte[] expected, string mediaType)
    {
        Assert.Equal(expected.Length, content.Headers.ContentLength);
        Assert.Equal(expected, await StreamedBody.ToArrayAsync(content));
        Assert.Equal(expected, await StreamedBody.ToArrayAsync(content));
        Assert.Equal(mediaType, content.Headers.ContentType!.MediaType);
    }

    /// <summary>Through a stream, as the connection writes it; ReadAsByteArrayAsync would buffer it once and reuse that.</summary>
    public static async Task<byte[]> ToArrayAsync(HttpContent content)
    {
        using var stream = new MemoryStream();
        await content.CopyToAsync(stream);
        return stream.ToArray();
    }
}
