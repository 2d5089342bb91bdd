using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// <c>format: cloudevents</c> through the real loader, consumer and workers to a Kestrel endpoint, whose requests are
/// read with the CloudEvents SDK: plain records become events, records that are CloudEvents arrive as themselves.
/// </summary>
public sealed class CloudEventsEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly JsonEventFormatter Formatter = new();

    // 2023-11-14T22:13:20.123Z; the producer sets it as the records' create time.
    private const long Timestamp = 1_700_000_000_123;

    private static readonly byte[] Structured =
        """{"specversion":"1.0","id":"paid-9","source":"urn:shop","type":"com.example.paid","datacontenttype":"application/json","data":{"total":12.5}}"""u8.ToArray();

    private readonly TestCluster _cluster;

    public CloudEventsEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task SingleRequests_EveryKindOfRecord_SdkReadsEachEvent_Issue11()
    {
        var topic = _cluster.CreateTopic("ce-single", 1);
        var group = Names.Unique("g");
        await ProduceAsync(topic);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("ce", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = "cloudevents", ["cloudevents_type"] = "com.example.kafka",
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(Records.Length, Patience);
            await proxy.StopAsync();
            Assert.DoesNotContain(proxy.Logs, l => l.Contains("failed (attempt", StringComparison.Ordinal));
        }

        var requests = receiver.Requests;
        Assert.Equal(Enumerable.Range(0, Records.Length).Select(o => (long)o), requests.Select(r => r.Offset!.Value));
        var events = new List<CloudEvent>();
        foreach (var received in requests)
        {
            using var request = ToHttpRequest(received);
            events.Add(await request.ToCloudEventAsync(Formatter));
        }

        AssertEvents(topic, events);
        Assert.Equal("true", requests[2].Header("X-Kafka-Tombstone"));
        Assert.Empty(requests[2].Body.ToArray());
        Assert.Equal(Structured, requests[4].Body.ToArray());
        Assert.Equal("application/cloudevents+json; charset=utf-8", requests[4].Header("Content-Type"));
        Assert.Null(requests[4].Header("ce-id"));
        Assert.Equal(Records.Length, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task InvalidEvent_EveryMessageFailsOnce_LoggedOnceWithPartitionOffsetAndReason_Issue11()
    {
        var topic = _cluster.CreateTopic("ce-invalid-log", 1);
        var group = Names.Unique("g");
        await ProduceAsync(topic);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.FailTimesPerMessage(1, Fault.Errno()));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("ce-log", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = "cloudevents", ["retry_interval_ms"] = 10,
        });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Accepted().Count() == Records.Length, Patience);
        await proxy.StopAsync();

        // Offset 5 has an invalid ce_id: the endpoint sees it wrapped (AssertEvents), the operator sees it in the log.
        var line = Assert.Single(proxy.Logs, l => l.Contains("claims to be a CloudEvent but is not a valid one", StringComparison.Ordinal));
        Assert.Contains($"Route ce-log: {topic}/0@5 ", line, StringComparison.Ordinal);
        Assert.Contains("(record header ce_id is not UTF-8 text without control characters)", line, StringComparison.Ordinal);
        Assert.StartsWith("warn", line, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(2, receiver.Requests.Count(r => r.Offset == 5));
    }

    [Fact]
    public async Task Batch_EveryKindOfRecord_SdkReadsOneBatchOfEvents_Issue11()
    {
        var topic = _cluster.CreateTopic("ce-batch", 1);
        var group = Names.Unique("g");
        await ProduceAsync(topic);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("ce-batch", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = "cloudevents", ["cloudevents_type"] = "com.example.kafka", ["batch_size"] = 10, ["batch_linger_ms"] = 1000,
        });

        var events = new List<CloudEvent>();
        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            // The linger may end before the last record was fetched: the records may come in more than one batch.
            await receiver.WaitForAsync(r => r.Sum(EventCount) >= Records.Length, Patience);
            await proxy.StopAsync();
            Assert.DoesNotContain(proxy.Logs, l => l.Contains("failed (attempt", StringComparison.Ordinal));
            Assert.Contains($"{topic}/0@5 ", Assert.Single(proxy.Logs, l => l.Contains("claims to be a CloudEvent but is not a valid one", StringComparison.Ordinal)), StringComparison.Ordinal);
        }

        foreach (var received in receiver.Requests)
        {
            Assert.Equal("application/cloudevents-batch+json", received.Header("Content-Type"));
            using var request = ToHttpRequest(received);
            events.AddRange(await request.ToCloudEventBatchAsync(Formatter));
        }

        AssertEvents(topic, events);
        Assert.Equal(Records.Length, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    // What both modes must show for the records of Records, in offset order.
    private static void AssertEvents(string topic, List<CloudEvent> events)
    {
        Assert.Equal([$"{topic}/0/0", $"{topic}/0/1", $"{topic}/0/2", "created-7", "paid-9", $"{topic}/0/5"], events.Select(e => e.Id));
        Assert.All(events, e => Assert.Equal(CloudEventsSpecVersion.V1_0, e.SpecVersion));

        var text = events[0];
        Assert.Equal($"kafka://default/{topic}", text.Source!.OriginalString);
        Assert.Equal("com.example.kafka", text.Type);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(Timestamp), text.Time);
        Assert.Equal("user 1 ✓", text.Subject);
        Assert.Equal("text/plain; charset=utf-8", text.DataContentType);

        var binaryKey = events[1];
        Assert.Null(binaryKey.Subject);
        Assert.Equal("application/octet-stream", binaryKey.DataContentType);
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.IsType<byte[]>(binaryKey.Data));

        var tombstone = events[2];
        Assert.Equal("tomb", tombstone.Subject);
        Assert.True(tombstone.Data is null or byte[] { Length: 0 }, $"tombstone data: {tombstone.Data}");

        var binaryEvent = events[3];
        Assert.Equal("/orders", binaryEvent.Source!.OriginalString);
        Assert.Equal("com.example.created", binaryEvent.Type);
        Assert.Equal("tenant 7", binaryEvent["tenant"]);
        Assert.Equal("application/json", binaryEvent.DataContentType);
        Assert.Equal(7, Assert.IsType<JsonElement>(binaryEvent.Data).GetProperty("order").GetInt32());

        var structured = events[4];
        Assert.Equal("com.example.paid", structured.Type);
        Assert.Equal(12.5, Assert.IsType<JsonElement>(structured.Data).GetProperty("total").GetDouble());

        var invalid = events[5];
        Assert.Equal("com.example.kafka", invalid.Type);
        Assert.Equal("record header ce_id is not UTF-8 text without control characters", invalid[CloudEventMapping.InvalidAttribute]);
    }

    // Offsets 0-5: text key and value, binary key, tombstone, a binary-mode event, a structured-mode event, bad ce_ headers.
    private static readonly Message<byte[]?, byte[]?>[] Records =
    [
        Record("user 1 ✓"u8.ToArray(), "hello"u8.ToArray(), ("content-type", "text/plain; charset=utf-8")),
        Record([0xFF, 0x00], [1, 2, 3]),
        Record("tomb"u8.ToArray(), null),
        Record("k"u8.ToArray(), """{"order":7}"""u8.ToArray(),
            ("ce_specversion", "1.0"), ("ce_id", "created-7"), ("ce_source", "/orders"), ("ce_type", "com.example.created"),
            ("ce_tenant", "tenant 7"), ("content-type", "application/json")),
        Record("k"u8.ToArray(), Structured, ("content-type", "application/cloudevents+json; charset=utf-8")),
        Record("k"u8.ToArray(), "v"u8.ToArray(), ("ce_specversion", "1.0"), ("ce_id", "a\r\nX-Injected: 1"), ("ce_source", "/orders"), ("ce_type", "t")),
    ];

    private static Message<byte[]?, byte[]?> Record(byte[]? key, byte[]? value, params (string Name, string Value)[] headers)
    {
        var recordHeaders = new Headers();
        foreach (var (name, text) in headers)
            recordHeaders.Add(name, Encoding.UTF8.GetBytes(text));
        return new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = recordHeaders, Timestamp = new Timestamp(Timestamp, TimestampType.CreateTime) };
    }

    private async Task ProduceAsync(string topic)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, Acks = Acks.All, EnableIdempotence = true })
            .SetLogHandler((_, _) => { })
            .Build();
        foreach (var record in Records)
            await producer.ProduceAsync(new TopicPartition(topic, 0), record);
    }

    private static int EventCount(ReceivedRequest batch)
    {
        using var document = JsonDocument.Parse(batch.Body);
        return document.RootElement.GetArrayLength();
    }

    // The request as Kestrel received it, for the SDK's HTTP binding (it reads HttpRequestMessage, not ASP.NET Core's HttpRequest).
    private static HttpRequestMessage ToHttpRequest(ReceivedRequest received)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("http://127.0.0.1" + received.Path)) { Content = new ByteArrayContent(received.Body.ToArray()) };
        foreach (var (name, value) in received.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
                request.Content.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}
