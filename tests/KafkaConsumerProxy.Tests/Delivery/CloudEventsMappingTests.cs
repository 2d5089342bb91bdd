using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// <c>format: cloudevents</c> requests as <see cref="RequestBuilder"/> makes them, read back with the CloudEvents SDK
/// (an independent implementation of the HTTP binding and the JSON format) and checked on the wire form too.
/// </summary>
public sealed class CloudEventsMappingTests
{
    private static readonly Uri Target = new("http://127.0.0.1:8080/consume");
    private static readonly JsonEventFormatter Formatter = new();

    // 2023-11-14T22:13:20.123Z
    private static readonly KafkaRecord Plain = new("orders", 2, 17, 1_700_000_000_123, "k 1"u8.ToArray(), [0x00, 0xFF],
        [new KafkaHeader("trace-id", "a b"u8.ToArray())]);

    [Fact]
    public async Task Build_PlainRecord_BinaryModeEventWithKcpAttributes_Issue11()
    {
        using var request = Builder().Build(Target, Plain);

        Assert.Equal("1.0", Header(request, "ce-specversion"));
        Assert.Equal("orders/2/17", Header(request, "ce-id"));
        Assert.Equal("kafka://default/orders", Header(request, "ce-source"));
        Assert.Equal("kafka.record", Header(request, "ce-type"));
        Assert.Equal("2023-11-14T22:13:20.123Z", Header(request, "ce-time"));
        Assert.Equal("k%201", Header(request, "ce-subject"));
        Assert.Equal("application/octet-stream", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal(Plain.Value, await request.Content.ReadAsByteArrayAsync());
        // The kcp headers of every format stay, and the record headers travel as in format: raw.
        Assert.Equal("orders/2/17", Header(request, "Idempotency-Key"));
        Assert.Equal("a%20b", Header(request, "X-Kafka-Header-trace-id"));
        Assert.Null(Header(request, "X-Kafka-Tombstone"));
        Assert.Null(Header(request, "ce-" + CloudEventMapping.InvalidAttribute));

        var cloudEvent = await request.ToCloudEventAsync(Formatter);
        Assert.Equal(CloudEventsSpecVersion.V1_0, cloudEvent.SpecVersion);
        Assert.Equal("orders/2/17", cloudEvent.Id);
        Assert.Equal(new Uri("kafka://default/orders"), cloudEvent.Source);
        Assert.Equal("kafka.record", cloudEvent.Type);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), cloudEvent.Time);
        Assert.Equal(TimeSpan.Zero, cloudEvent.Time!.Value.Offset);
        Assert.Equal("k 1", cloudEvent.Subject);
        Assert.Equal("application/octet-stream", cloudEvent.DataContentType);
        Assert.Equal(Plain.Value, Assert.IsType<byte[]>(cloudEvent.Data));
    }

    [Fact]
    public async Task Build_TypeAndClusterFromRoute_Issue11()
    {
        var builder = Builder(route => route with { Cluster = "EU-west.1_a", Delivery = route.Delivery with { CloudEventsType = "com.example.order created" } });

        using var request = builder.Build(Target, Plain);
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("kafka://EU-west.1_a/orders", Header(request, "ce-source"));
        Assert.Equal("kafka://EU-west.1_a/orders", cloudEvent.Source!.OriginalString);
        Assert.Equal("com.example.order%20created", Header(request, "ce-type"));
        Assert.Equal("com.example.order created", cloudEvent.Type);
    }

    [Theory]
    [InlineData(new byte[] { 0x6B, 0x65, 0x79 }, "key")]
    [InlineData(new byte[] { 0xD0, 0xBA, 0x20, 0xE2, 0x82, 0xAC, 0x22, 0x25 }, "к €\"%")]
    [InlineData(new byte[] { 0xFF, 0x00 }, null)]
    [InlineData(new byte[] { 0x61, 0x0A, 0x62 }, null)]
    [InlineData(new byte[] { 0x61, 0xC2, 0x85 }, null)]
    [InlineData(new byte[] { }, null)]
    public async Task Build_Key_SubjectOnlyWhenTextWithoutControlCharacters_Issue11(byte[] key, string? subject)
    {
        using var request = Builder().Build(Target, Plain with { Key = key });
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal(subject, cloudEvent.Subject);
        Assert.All(request.Headers, h => Assert.All(h.Value, v => Assert.True(IsPrintableAscii(v), $"{h.Key}: {v}")));
        // The key itself is always there, percent-encoded, as in every format.
        Assert.Equal(RequestBuilder.PercentEncodeToString(key), Header(request, "X-Kafka-Key"));
    }

    [Fact]
    public async Task Build_NullKey_NoSubject_Issue11()
    {
        using var request = Builder().Build(Target, Plain with { Key = null });

        Assert.Null(Header(request, "ce-subject"));
        Assert.Null((await request.ToCloudEventAsync(Formatter)).Subject);
    }

    [Fact]
    public async Task Build_NullValue_EmptyBodyMarkedAsTombstoneAsInRaw_Issue11()
    {
        using var tombstone = Builder().Build(Target, Plain with { Value = null });
        using var empty = Builder().Build(Target, Plain with { Value = [] });

        Assert.Empty(await tombstone.Content!.ReadAsByteArrayAsync());
        Assert.Equal("true", Header(tombstone, "X-Kafka-Tombstone"));
        Assert.Equal("orders/2/17", (await tombstone.ToCloudEventAsync(Formatter)).Id);
        Assert.Empty(await empty.Content!.ReadAsByteArrayAsync());
        Assert.Null(Header(empty, "X-Kafka-Tombstone"));
    }

    [Fact]
    public async Task Build_RecordContentType_UsedAsContentType_Issue11()
    {
        using var request = Builder().Build(Target, Plain with { Value = "hello"u8.ToArray(), Headers = [new("Content-Type", "text/plain; charset=utf-8"u8.ToArray())] });
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("text/plain; charset=utf-8", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal("text/plain; charset=utf-8", cloudEvent.DataContentType);
        Assert.Equal("hello", cloudEvent.Data);
    }

    [Theory]
    [InlineData("text/plain\r\nX-Evil: 1")]
    [InlineData("not a media type")]
    [InlineData("")]
    public async Task Build_UnusableRecordContentType_OctetStream_Issue11(string contentType)
    {
        using var request = Builder().Build(Target, Plain with { Headers = [new("content-type", Encoding.UTF8.GetBytes(contentType))] });

        Assert.Equal("application/octet-stream", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal("orders/2/17", (await request.ToCloudEventAsync(Formatter)).Id);
    }

    [Fact]
    public async Task Build_NoTimestamp_NoTime_Issue11()
    {
        using var request = Builder().Build(Target, Plain with { TimestampMs = -1 });

        Assert.Null(Header(request, "ce-time"));
        Assert.Null((await request.ToCloudEventAsync(Formatter)).Time);
    }

    [Fact]
    public async Task Build_BinaryModeKafkaEvent_ForwardedAsThatEventNotWrapped_Issue11()
    {
        var record = Plain with
        {
            Value = """{"order":1}"""u8.ToArray(),
            Headers =
            [
                new("ce_specversion", "1.0"u8.ToArray()), new("ce_id", "evt-1"u8.ToArray()), new("ce_source", "/shop/orders"u8.ToArray()),
                new("ce_type", "com.example.created"u8.ToArray()), new("ce_time", "2024-02-29T10:00:00.5+01:00"u8.ToArray()),
                new("ce_subject", "ä b"u8.ToArray()), new("ce_tenant", "t 7"u8.ToArray()), new("content-type", "application/json"u8.ToArray()),
                new("trace", "x"u8.ToArray()),
            ],
        };

        using var request = Builder().Build(Target, record);
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("evt-1", cloudEvent.Id);
        Assert.Equal("/shop/orders", cloudEvent.Source!.OriginalString);
        Assert.Equal("com.example.created", cloudEvent.Type);
        Assert.Equal(new DateTimeOffset(2024, 2, 29, 10, 0, 0, 500, TimeSpan.FromHours(1)), cloudEvent.Time);
        Assert.Equal("ä b", cloudEvent.Subject);
        Assert.Equal("t 7", cloudEvent["tenant"]);
        Assert.Equal("application/json", cloudEvent.DataContentType);
        Assert.Equal(1, Assert.IsType<JsonElement>(cloudEvent.Data).GetProperty("order").GetInt32());
        Assert.Equal("%C3%A4%20b", Header(request, "ce-subject"));
        // Only the kcp headers and the record's other headers are added: no second set of attributes.
        Assert.Equal(["ce-id", "ce-source", "ce-specversion", "ce-subject", "ce-tenant", "ce-time", "ce-type"],
            request.Headers.Select(h => h.Key).Where(k => k.StartsWith("ce-", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal));
        Assert.Equal("x", Header(request, "X-Kafka-Header-trace"));
        Assert.DoesNotContain(request.Headers, h => h.Key.StartsWith("X-Kafka-Header-ce_", StringComparison.Ordinal) || h.Key == "X-Kafka-Header-content-type");
        Assert.Equal("orders/2/17", Header(request, "Idempotency-Key"));
    }

    [Fact]
    public async Task Build_SixtyFourAttributes_StillForwarded_Issue11()
    {
        KafkaHeader[] headers = [.. Attributes(), .. Enumerable.Range(0, 60).Select(i => new KafkaHeader($"ce_x{i}", "v"u8.ToArray()))];

        using var request = Builder().Build(Target, Plain with { Headers = [.. headers, new("content-type", "application/octet-stream"u8.ToArray())] });
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("evt-1", cloudEvent.Id);
        Assert.Equal("v", cloudEvent["x59"]);
    }

    [Fact]
    public async Task Build_BinaryModeKafkaEventWithoutContentType_NoContentType_Issue11()
    {
        var record = Plain with { Value = """{"a":true}"""u8.ToArray(), Headers = Attributes() };

        using var request = Builder().Build(Target, record);

        Assert.Null(request.Content!.Headers.ContentType);
        Assert.Equal("evt-1", (await request.ToCloudEventAsync(Formatter)).Id);
    }

    [Theory]
    [InlineData("application/cloudevents+json")]
    [InlineData("Application/CloudEvents+JSON; charset=UTF-8")]
    public async Task Build_StructuredModeKafkaEvent_ValueSentAsItIsWithItsContentType_Issue11(string contentType)
    {
        var value = """{"specversion":"1.0","id":"s-1","source":"urn:shop","type":"com.example.paid","datacontenttype":"application/json","data":{"n":[1,2]}}"""u8.ToArray();
        var record = Plain with { Value = value, Headers = [new("content-type", Encoding.ASCII.GetBytes(contentType)), new("trace", "x"u8.ToArray())] };

        using var request = Builder().Build(Target, record);
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal(value, await request.Content!.ReadAsByteArrayAsync());
        Assert.Equal(contentType, request.Content.Headers.GetValues("Content-Type").Single());
        Assert.DoesNotContain(request.Headers, h => h.Key.StartsWith("ce-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("s-1", cloudEvent.Id);
        Assert.Equal("com.example.paid", cloudEvent.Type);
        Assert.Equal(2, Assert.IsType<JsonElement>(cloudEvent.Data).GetProperty("n")[1].GetInt32());
        Assert.Equal("x", Header(request, "X-Kafka-Header-trace"));
    }

    [Fact]
    public void Build_InvalidEvent_ReportedAtItsFirstAttemptOnlyAndValidOnesNever_Issue11()
    {
        var reported = new List<(long Offset, string Problem)>();
        var builder = new RequestBuilder(TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = RequestFormat.CloudEvents } }, (record, problem) => reported.Add((record.Offset, problem)));
        var invalid = Plain with { Offset = 5, Headers = [.. Attributes().Where(h => h.Name != "ce_id")] };
        var valid = Plain with { Offset = 6, Headers = Attributes() };

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            using var single = builder.Build(Target, invalid, attempt);
            using var batch = builder.BuildBatch(Target, [Plain, invalid, valid], attempt);
            using var fine = builder.Build(Target, valid, attempt);
        }

        // Once for the single request and once for the batch, each at attempt 1; a retry or a valid event says nothing.
        Assert.Equal([(5L, "ce_id is missing"), (5L, "ce_id is missing")], reported);
    }

    public static TheoryData<string, KafkaHeader[], string> InvalidBinaryEvents => new()
    {
        { "missing id", [.. Attributes().Where(h => h.Name != "ce_id")], "ce_id is missing" },
        { "old version", [.. Attributes().Where(h => h.Name != "ce_specversion"), new("ce_specversion", "0.3"u8.ToArray())], "ce_specversion is not 1.0" },
        { "CR LF in id", [.. Attributes().Where(h => h.Name != "ce_id"), new("ce_id", "a\r\nX-Evil: 1"u8.ToArray())], "record header ce_id is not UTF-8 text without control characters" },
        { "not UTF-8", [.. Attributes(), new("ce_ext", [0xFF])], "record header ce_ext is not UTF-8 text without control characters" },
        { "bad name", [.. Attributes(), new("ce_Tenant ä", "x"u8.ToArray())], "record header ce_Tenant%20%C3%A4 is not ce_ and a CloudEvents attribute name (a-z, 0-9)" },
        { "twice", [.. Attributes(), new("ce_id", "other"u8.ToArray())], "record header ce_id is given twice" },
        { "null value", [.. Attributes(), new("ce_ext", null)], "record header ce_ext is empty" },
        { "bad source", [.. Attributes().Where(h => h.Name != "ce_source"), new("ce_source", "http://bad host/"u8.ToArray())], "ce_source is not a URI reference" },
        { "bad dataschema", [.. Attributes(), new("ce_dataschema", "relative"u8.ToArray())], "ce_dataschema is not an absolute URI" },
        { "bad time", [.. Attributes(), new("ce_time", "2024-02-30T10:00:00Z"u8.ToArray())], "ce_time is not an RFC 3339 timestamp" },
        { "datacontenttype", [.. Attributes(), new("ce_datacontenttype", "text/plain"u8.ToArray())], "record header ce_datacontenttype is not an attribute of the Kafka binding (the content type is the content-type header)" },
        { "too many", [.. Attributes(), .. Enumerable.Range(0, 61).Select(i => new KafkaHeader($"ce_x{i}", "v"u8.ToArray()))], "more than 64 ce_ record headers" },
        { "bad content-type", [.. Attributes(), new("content-type", "text/plain\n"u8.ToArray())], "content-type is not a media type of printable ASCII" },
    };

    [Theory]
    [MemberData(nameof(InvalidBinaryEvents))]
    public async Task Build_InvalidBinaryModeEvent_SentAsNewEventSayingWhyWithAllRecordHeaders_Issue11(string what, KafkaHeader[] headers, string problem)
    {
        using var request = Builder().Build(Target, Plain with { Headers = headers });
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.True(cloudEvent.Id == "orders/2/17", what);
        Assert.Equal("kafka.record", cloudEvent.Type);
        Assert.Equal(problem, cloudEvent[CloudEventMapping.InvalidAttribute]);
        Assert.Equal(headers.Length, request.Headers.Where(h => h.Key.StartsWith(RequestBuilder.RecordHeaderPrefix, StringComparison.Ordinal)).Sum(h => h.Value.Count()));
        Assert.All(request.Headers, h => Assert.All(h.Value, v => Assert.True(IsPrintableAscii(v), $"{h.Key}: {v}")));
    }

    [Theory]
    [InlineData("not json", "value is not one JSON object")]
    [InlineData(null, "value is not one JSON object")]
    [InlineData("""[{"specversion":"1.0","id":"s-1","source":"urn:shop","type":"t"}]""", "value is not one JSON object")]
    [InlineData("""{"specversion":"1.0","id":"s-1","source":"urn:shop","type":"t"} {}""", "value is not one JSON object")]
    [InlineData("""{"specversion":"1.0","id":"s-1","source":"urn:shop"}""", "type is missing")]
    [InlineData("""{"specversion":"0.3","id":"s-1","source":"urn:shop","type":"t"}""", "specversion is not 1.0")]
    [InlineData("""{"specversion":"1.0","id":"","source":"urn:shop","type":"t"}""", "id is empty or holds control characters")]
    [InlineData("""{"specversion":"1.0","id":"a\nb","source":"urn:shop","type":"t"}""", "id is empty or holds control characters")]
    [InlineData("""{"specversion":"1.0","id":1,"source":"urn:shop","type":"t"}""", "id is not a string")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"http://bad host/x","type":"t"}""", "source is not a URI reference")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","time":"yesterday"}""", "time is not an RFC 3339 timestamp")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","dataschema":"rel/path"}""", "dataschema is not an absolute URI")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","datacontenttype":"not a type"}""", "datacontenttype is not a media type of printable ASCII")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","Ext":"x"}""", "member Ext is not a CloudEvents attribute name (a-z, 0-9)")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","ext":{"a":1}}""", "ext is not a string")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","ext":1.5}""", "ext is a number that is not a 32-bit integer")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","data_base64":"!!"}""", "data_base64 is not a base64 string")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","data":1,"data_base64":"AA=="}""", "data and data_base64 are both given")]
    [InlineData("""{"specversion":"1.0","id":"s","source":"urn:shop","type":"t","datacontenttype":"text/plain","data":{"a":1}}""", "data is not a string although datacontenttype is not JSON")]
    public async Task Build_InvalidStructuredModeEvent_SentAsNewOctetStreamEvent_Issue11(string? value, string problem)
    {
        var record = Plain with { Value = value is null ? null : Encoding.UTF8.GetBytes(value), Headers = [new("content-type", "application/cloudevents+json"u8.ToArray())] };

        using var request = Builder().Build(Target, record);
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("application/octet-stream", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal(record.Value ?? [], await request.Content.ReadAsByteArrayAsync());
        Assert.Equal("orders/2/17", cloudEvent.Id);
        Assert.Equal(problem, cloudEvent[CloudEventMapping.InvalidAttribute]);
        Assert.Equal("application%2Fcloudevents%2Bjson", Header(request, "X-Kafka-Header-content-type"));
    }

    [Fact]
    public async Task BuildBatch_StructuredEventsWithEveryAttributeType_EmbeddedAndReadBySdk_Issue11()
    {
        var full = """{"specversion":"1.0","id":"s-1","source":"/a/b","type":"t","time":"2024-01-01T00:00:00Z","subject":"s","dataschema":"https://example.com/s.json","datacontenttype":"text/plain","data":"hi","count":3,"flag":true,"note":"n"}"""u8.ToArray();
        var binary = """{"specversion":"1.0","id":"s-2","source":"urn:x","type":"t","data_base64":"AP8="}"""u8.ToArray();
        var structured = new KafkaHeader("content-type", "application/cloudevents+json"u8.ToArray());
        KafkaRecord[] records = [Plain with { Offset = 1, Value = full, Headers = [structured] }, Plain with { Offset = 2, Value = binary, Headers = [structured] }];

        using var request = Builder().BuildBatch(Target, records);
        var events = await request.ToCloudEventBatchAsync(Formatter);

        Assert.Equal(["s-1", "s-2"], events.Select(e => e.Id));
        Assert.Equal("hi", events[0].Data);
        // The SDK keeps extensions it has no declared type for as their text.
        Assert.Equal("3", Assert.IsType<string>(events[0]["count"]));
        Assert.Equal("true", Assert.IsType<string>(events[0]["flag"]));
        Assert.Equal(new byte[] { 0x00, 0xFF }, Assert.IsType<byte[]>(events[1].Data));
        Assert.Null(events[0][CloudEventMapping.InvalidAttribute]);
    }

    [Fact]
    public async Task Build_OtherCloudEventsFormat_SentAsNewEvent_Issue11()
    {
        var record = Plain with { Headers = [new("content-type", "application/cloudevents-batch+json"u8.ToArray())] };

        using var request = Builder().Build(Target, record);
        var cloudEvent = await request.ToCloudEventAsync(Formatter);

        Assert.Equal("orders/2/17", cloudEvent.Id);
        Assert.StartsWith("content-type is a CloudEvents format other than application/cloudevents+json", (string)cloudEvent[CloudEventMapping.InvalidAttribute]!, StringComparison.Ordinal);
        Assert.Equal("application/octet-stream", cloudEvent.DataContentType);
    }

    [Fact]
    public async Task BuildBatch_EveryKindOfRecord_SdkReadsTheBatch_Issue11()
    {
        var structured = """{"specversion":"1.0","id":"s-1","source":"urn:shop","type":"com.example.paid","data":"x"}"""u8.ToArray();
        KafkaRecord[] records =
        [
            Plain with { Offset = 5 },
            Plain with { Offset = 6, Key = [0xFF], Value = """{"a":[1,"é"]}"""u8.ToArray(), Headers = [new("content-type", "application/json"u8.ToArray())] },
            Plain with { Offset = 7, Value = null, TimestampMs = -1 },
            Plain with { Offset = 8, Value = "text"u8.ToArray(), Headers = [.. Attributes(), new("content-type", "text/plain"u8.ToArray())] },
            Plain with { Offset = 9, Value = structured, Headers = [new("content-type", "application/cloudevents+json; charset=utf-8"u8.ToArray())] },
            Plain with { Offset = 10, Value = "{not json"u8.ToArray(), Headers = [new("content-type", "application/json"u8.ToArray())] },
            Plain with { Offset = 11, Headers = [.. Attributes().Where(h => h.Name != "ce_type")] },
        ];

        using var request = Builder().BuildBatch(Target, records);
        var events = await request.ToCloudEventBatchAsync(Formatter);

        Assert.Equal("application/cloudevents-batch+json", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal(["orders/2/5", "orders/2/6", "orders/2/7", "evt-1", "s-1", "orders/2/10", "orders/2/11"], events.Select(e => e.Id));
        Assert.Equal(Plain.Value, Assert.IsType<byte[]>(events[0].Data));
        Assert.Equal("k 1", events[0].Subject);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), events[0].Time);
        Assert.Equal("kafka://default/orders", events[0].Source!.OriginalString);
        Assert.Equal("é", Assert.IsType<JsonElement>(events[1].Data).GetProperty("a")[1].GetString());
        Assert.Null(events[1].Subject);
        Assert.Null(events[2].Data);
        Assert.Null(events[2].Time);
        Assert.Equal("com.example.created", events[3].Type);
        Assert.Equal("text/plain", events[3].DataContentType);
        // Only JSON is held as data; anything else, text too, is data_base64 and reads back as bytes.
        Assert.Equal("text"u8.ToArray(), Assert.IsType<byte[]>(events[3].Data));
        Assert.Equal("x", Assert.IsType<JsonElement>(events[4].Data).GetString());
        Assert.Equal("{not json"u8.ToArray(), Assert.IsType<byte[]>(events[5].Data));
        Assert.Equal("ce_type is missing", events[6][CloudEventMapping.InvalidAttribute]);
        Assert.All(events, e => Assert.Equal(CloudEventsSpecVersion.V1_0, e.SpecVersion));
        Assert.Equal("orders/2/5-11", Header(request, "Idempotency-Key"));

        using var document = JsonDocument.Parse(await request.Content.ReadAsByteArrayAsync());
        var body = document.RootElement;
        Assert.Equal("AP8=", body[0].GetProperty("data_base64").GetString());
        Assert.False(body[0].TryGetProperty("data", out _));
        Assert.False(body[2].TryGetProperty("data", out _));
        Assert.False(body[2].TryGetProperty("data_base64", out _));
    }

    [Theory]
    [InlineData("2026-12-01T14:02:12Z", true)]
    [InlineData("2026-12-01T14:02:12.123456789Z", true)]
    [InlineData("2026-12-01t14:02:12z", false)]
    [InlineData("2026-12-01T14:02:12+05:30", true)]
    [InlineData("2024-02-29T00:00:00-00:00", true)]
    [InlineData("2023-02-29T00:00:00Z", false)]
    [InlineData("2026-12-01T24:00:00Z", false)]
    [InlineData("2026-12-01T14:02:12", false)]
    [InlineData("2026-12-01 14:02:12Z", false)]
    [InlineData("2026-12-01T14:02:12.Z", false)]
    [InlineData("2026-12-01T14:02:12+0530", false)]
    [InlineData("12/01/2026 14:02:12", false)]
    public void IsRfc3339_Examples_Issue11(string text, bool valid) =>
        Assert.Equal(valid, CloudEventMapping.IsRfc3339(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("2026-12-01T14:02:12Z")]
    [InlineData("2026-12-01T14:02:12.123456789Z")]
    [InlineData("2026-12-01T14:02:12+05:30")]
    [InlineData("0001-01-01T00:00:00Z")]
    public async Task Build_ForwardedTimeThatPassesTheCheck_SdkReadsIt_Issue11(string time)
    {
        var record = Plain with { Headers = [.. Attributes(), new("ce_time", Encoding.ASCII.GetBytes(time)), new("content-type", "application/octet-stream"u8.ToArray())] };
        using var request = Builder().Build(Target, record);
        using var batch = Builder().BuildBatch(Target, [record]);

        Assert.Equal("evt-1", (await request.ToCloudEventAsync(Formatter)).Id);
        Assert.NotNull(Assert.Single(await batch.ToCloudEventBatchAsync(Formatter)).Time);
    }

    [Fact]
    public void HeaderValue_SpecExample_PercentEncodedAsTheBindingSays_Issue11()
    {
        Assert.Equal("Euro%20%E2%82%AC%20%F0%9F%98%80", CloudEventMapping.HeaderValue(Encoding.UTF8.GetBytes("Euro € 😀")));
        Assert.Equal("a%22b%25c!~", CloudEventMapping.HeaderValue("a\"b%c!~"u8.ToArray()));
    }

    private static KafkaHeader[] Attributes() =>
    [
        new("ce_specversion", "1.0"u8.ToArray()), new("ce_id", "evt-1"u8.ToArray()), new("ce_source", "/shop/orders"u8.ToArray()),
        new("ce_type", "com.example.created"u8.ToArray()),
    ];

    private static bool IsPrintableAscii(string value) => value.All(c => c is >= ' ' and <= '~');

    private static string? Header(HttpRequestMessage request, string name) =>
        request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static RequestBuilder Builder(Func<RouteDefinition, RouteDefinition>? change = null)
    {
        var route = TestRoutes.Route() with { Delivery = TestRoutes.Delivery with { Format = RequestFormat.CloudEvents } };
        return new RequestBuilder(change is null ? route : change(route));
    }
}
