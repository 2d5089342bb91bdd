using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

public sealed class RequestBuilderTests
{
    private static readonly Uri Target = new("http://127.0.0.1:8080/consume");

    private static readonly KafkaRecord Record = new("orders", 2, 17, 1_700_000_000_000, "k 1"u8.ToArray(), [0x00, 0xFF],
        [new KafkaHeader("trace-id", "a b"u8.ToArray()), new KafkaHeader("Ünï", [0x01]), new KafkaHeader("empty", []), new KafkaHeader("none", null)]);

    [Fact]
    public async Task Build_Form_OldBodyAndKafkaHeadersAndRecordHeaders()
    {
        using var request = Builder(RequestFormat.Form).Build(Target, Record);

        Assert.Equal("m=%00%FF&p=2&o=17", await request.Content!.ReadAsStringAsync());
        Assert.Equal("application/x-www-form-urlencoded", request.Content.Headers.ContentType!.MediaType);
        AssertMessageHeaders(request);
        Assert.Equal("a%20b", Header(request, "X-Kafka-Header-trace-id"));
        Assert.Equal("%01", Header(request, "X-Kafka-Header-%C3%9Cn%C3%AF"));
        Assert.Equal("", Header(request, "X-Kafka-Header-empty"));
        Assert.Equal("", Header(request, "X-Kafka-Header-none"));
    }

    [Fact]
    public async Task Build_Json_EnvelopeBodyAndKafkaHeadersButNoRecordHeaders()
    {
        using var request = Builder(RequestFormat.Json).Build(Target, Record);

        Assert.Equal(JsonEnvelope.Single(Record), await request.Content!.ReadAsByteArrayAsync());
        Assert.Equal("application/json", request.Content.Headers.ContentType!.MediaType);
        AssertMessageHeaders(request);
        Assert.DoesNotContain(request.Headers, h => h.Key.StartsWith(RequestBuilder.RecordHeaderPrefix, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Build_Raw_ValueBytesUnchangedWithConfiguredContentType()
    {
        using var request = Builder(RequestFormat.Raw, "text/plain; charset=utf-8").Build(Target, Record);

        Assert.Equal(Record.Value, await request.Content!.ReadAsByteArrayAsync());
        Assert.Equal("text/plain; charset=utf-8", request.Content.Headers.ContentType!.ToString());
        Assert.Equal(2, request.Content.Headers.ContentLength);
        AssertMessageHeaders(request);
        Assert.Null(Header(request, "X-Kafka-Tombstone"));
        Assert.Equal("a%20b", Header(request, "X-Kafka-Header-trace-id"));
    }

    [Fact]
    public async Task Build_RawTombstone_EmptyBodyMarkedAsTombstone()
    {
        using var tombstone = Builder(RequestFormat.Raw).Build(Target, Record with { Value = null });
        using var empty = Builder(RequestFormat.Raw).Build(Target, Record with { Value = [] });

        Assert.Empty(await tombstone.Content!.ReadAsByteArrayAsync());
        Assert.Equal("true", Header(tombstone, "X-Kafka-Tombstone"));
        Assert.Equal("application/octet-stream", tombstone.Content.Headers.ContentType!.MediaType);
        Assert.Empty(await empty.Content!.ReadAsByteArrayAsync());
        Assert.Null(Header(empty, "X-Kafka-Tombstone"));
    }

    [Fact]
    public async Task BuildBatch_OnePartition_ArrayBodyAndBatchHeaders()
    {
        KafkaRecord[] records = [Record, Record with { Offset = 18 }, Record with { Offset = 19 }, Record with { Offset = 25 }];

        using var request = Builder(RequestFormat.Json, domain: "orders.internal").BuildBatch(Target, records);

        Assert.Equal(JsonEnvelope.Batch(records), await request.Content!.ReadAsByteArrayAsync());
        Assert.Equal("application/json", request.Content.Headers.ContentType!.MediaType);
        Assert.Equal("orders.internal", request.Headers.Host);
        Assert.Equal("orders/2/17-19,25", Header(request, "Idempotency-Key"));
        Assert.Equal("orders", Header(request, "X-Kafka-Topic"));
        Assert.Equal("2", Header(request, "X-Kafka-Partition"));
        Assert.Equal("17-19,25", Header(request, "X-Kafka-Offsets"));
        Assert.Equal("4", Header(request, "X-Kafka-Batch-Size"));
        Assert.Null(Header(request, "X-Kafka-Offset"));
    }

    [Fact]
    public void FormBody_TombstoneAndLargeOffset_NoMFieldAndFullNumbers()
    {
        Assert.Equal("p=2&o=17"u8.ToArray(), RequestBuilder.FormBody(Record with { Value = null }));
        Assert.Equal("m=a+b%2B&p=2147483647&o=9223372036854775807"u8.ToArray(), RequestBuilder.FormBody(Record with { Partition = int.MaxValue, Offset = long.MaxValue, Value = "a b+"u8.ToArray() }));
    }

    [Theory]
    [InlineData(new long[] { 5 }, "5")]
    [InlineData(new long[] { 5, 6, 7 }, "5-7")]
    [InlineData(new long[] { 1, 3, 4, 9, 10, 12 }, "1,3-4,9-10,12")]
    public void DescribeOffsets_RunsCompressed(long[] offsets, string expected)
    {
        Assert.Equal(expected, RequestBuilder.DescribeOffsets([.. offsets.Select(o => Record with { Offset = o })]));
    }

    /// <summary>
    /// The deliverer sends to the URLs and with the Host header that the loader checks (EndpointRules.CheckAsSent):
    /// both come from the endpoint's own functions, and a retry moves to the next host.
    /// </summary>
    [Fact]
    public void Build_ToTheEndpointsTargetsWithItsDomain_Issue16()
    {
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Hosts = ["orders-1.internal", "[::1]"], Url = "/a%20b", Domain = "orders.internal:81" } };
        var hosts = new HostSelector(route.Endpoint.Targets());

        using var first = new RequestBuilder(route).Build(hosts.Target(1, 1), Record);
        using var retry = new RequestBuilder(route).Build(hosts.Target(1, 2), Record, attempt: 2);

        Assert.Equal("http://[::1]:8080/a%20b", first.RequestUri!.AbsoluteUri);
        Assert.Equal("http://orders-1.internal:8080/a%20b", retry.RequestUri!.AbsoluteUri);
        Assert.Equal("orders.internal:81", first.Headers.Host);
        Assert.Empty(EndpointRules.CheckAsSent(route));
    }

    private static void AssertMessageHeaders(HttpRequestMessage request)
    {
        Assert.Equal("orders/2/17", Header(request, "Idempotency-Key"));
        Assert.Equal("orders", Header(request, "X-Kafka-Topic"));
        Assert.Equal("2", Header(request, "X-Kafka-Partition"));
        Assert.Equal("17", Header(request, "X-Kafka-Offset"));
        Assert.Equal("1700000000000", Header(request, "X-Kafka-Timestamp"));
        Assert.Equal("k%201", Header(request, "X-Kafka-Key"));
    }

    private static string? Header(HttpRequestMessage request, string name) =>
        request.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    private static RequestBuilder Builder(RequestFormat format, string contentType = RouteDefaults.RawContentType, string? domain = null) =>
        new(TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = format, ContentType = contentType }, Endpoint = TestRoutes.Endpoint with { Domain = domain } });
}

/// <summary>Route definitions for tests of the delivery layer alone.</summary>
internal static class TestRoutes
{
    /// <summary>The endpoint of <see cref="Route"/>: 127.0.0.1:8080/consume, 1 s to connect and to answer.</summary>
    public static EndpointSettings Endpoint { get; } = new() { Hosts = ["127.0.0.1"], Port = 8080, Url = "/consume", ConnTimeoutMs = 1000, ExecTimeoutMs = 1000 };

    /// <summary>The retry settings of <see cref="Route"/>: no skips, 10 ms between attempts.</summary>
    public static RetrySettings Retry { get; } = new() { CanSkip = false, RetryNums = 0, RetryIntervalMs = 10 };

    /// <summary>The delivery settings of <see cref="Route"/>: the defaults.</summary>
    public static DeliverySettings Delivery { get; } = new();

    public static RouteDefinition Route() => new()
    {
        Name = "r",
        SourceFile = "r.yaml",
        Topic = "orders",
        Group = "g",
        Concurrency = 1,
        Endpoint = Endpoint,
        Retry = Retry,
        Delivery = Delivery,
        Offsets = new OffsetSettings { UseSavedOffsetTime = 0 },
    };
}
