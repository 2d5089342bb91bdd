using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Decoding;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>
/// kcp's registry client against the stand-in over plain HTTP (issue 21): credentials sent, several urls tried in turn
/// starting with the last that answered, and the registry's answers sorted: a refusal is
/// <see cref="DecodeFailure.RegistryUnavailable"/> with its error code, an outage of every url names each.
/// </summary>
public sealed class SchemaSourceTests
{
    [Fact]
    public async Task BasicAuth_SentOnEveryRequest_SchemaKeptAfterItsFirstFetch_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var id = registry.Add("JSON", "{}", "t-value");
        var decoder = new RecordDecoder(SchemaSource.For(new SchemaRegistrySettings { Url = Url(registry), BasicAuth = "kcp:s3cret" }));

        var first = await decoder.DecodeAsync(Record(id), RecordFormat.JsonSchema);
        var second = await decoder.DecodeAsync(Record(id), RecordFormat.JsonSchema);

        Assert.Equal((DecodeFailure.None, DecodeFailure.None), (first.Failure, second.Failure));
        Assert.Equal(["Basic " + Convert.ToBase64String("kcp:s3cret"u8)], registry.Authorizations);
    }

    [Fact]
    public async Task Refused401_RegistryUnavailableWithTheRegistrysErrorCode_NextUrlNotAsked_Issue21()
    {
        await using var refusing = await RegistryStandIn.StartAsync();
        await using var other = await RegistryStandIn.StartAsync();
        refusing.Refusing = true;
        var source = SchemaSource.For(new SchemaRegistrySettings { Url = $"{Url(refusing)},{Url(other)}", Bearer = "tok" });

        var decoded = await new RecordDecoder(source).DecodeAsync(Record(101), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, decoded.Failure);
        Assert.Equal($"the schema registry refused the request for schema id 101: {Url(refusing)}: HTTP 401, error code 40101: Unauthorized", decoded.Reason);
        Assert.Equal(["Bearer tok"], refusing.Authorizations);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task FirstUrlDown_NextAsked_ThenAskedFirst_EveryUrlDown_EachNamed_Issue21()
    {
        await using var down = await RegistryStandIn.StartAsync();
        await using var up = await RegistryStandIn.StartAsync();
        down.Down = true;
        using var refused = new RefusedPort();
        var closed = refused.Port;
        var a = up.Add("JSON", "{}", "a-value");
        var b = up.Add("JSON", """{"type":"object"}""", "b-value");
        var decoder = new RecordDecoder(SchemaSource.For(new SchemaRegistrySettings { Url = $"{Url(down)},http://127.0.0.1:{closed},{Url(up)}" }));

        var first = await decoder.DecodeAsync(Record(a), RecordFormat.JsonSchema);
        var second = await decoder.DecodeAsync(Record(b), RecordFormat.JsonSchema);
        up.Down = true;
        var none = await decoder.DecodeAsync(Record(999), RecordFormat.JsonSchema);

        Assert.Equal((DecodeFailure.None, DecodeFailure.None), (first.Failure, second.Failure));
        Assert.Equal([$"GET /schemas/ids/{a}", "GET /schemas/ids/999"], down.Requests);
        Assert.Equal(DecodeFailure.RegistryUnavailable, none.Failure);
        Assert.StartsWith($"the schema registry could not be asked for schema id 999: {Url(up)}: HTTP 503, error code 50302: stand-in is down; {Url(down)}: HTTP 503, error code 50302: stand-in is down; http://127.0.0.1:{closed}: ", none.Reason, StringComparison.Ordinal);
    }

    private static string Url(RegistryStandIn registry) => registry.BaseAddress.ToString().TrimEnd('/');

    private static byte[] Record(int id) => [0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id, .. "{}"u8];
}
