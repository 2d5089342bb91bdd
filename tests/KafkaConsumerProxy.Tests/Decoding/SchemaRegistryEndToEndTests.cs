using System.Text;
using System.Text.Json;
using Avro;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Delivery;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>
/// Typed topics end to end (issue 21): records encoded by Confluent's serializers against a registry stand-in on
/// 127.0.0.1, consumed from the embedded cluster by kcp in process, and what the Kestrel endpoint receives.
/// </summary>
public sealed class SchemaRegistryEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly RecordSchema OrderSchema = (RecordSchema)Avro.Schema.Parse("""
        {"type":"record","name":"Order","namespace":"shop","fields":[
          {"name":"id","type":"long"},{"name":"item","type":"string"},
          {"name":"tags","type":{"type":"array","items":"string"}},{"name":"note","type":["null","string"]}]}
        """);

    private readonly TestCluster _cluster;

    public SchemaRegistryEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Avro_JsonAndForm_EndpointReceivesEachRecordAsJson_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("avro", 1);
        var valueBytes = await AvroAsync(registry, topic, [Order(1, "book", null), Order(2, "pen", "gift")]);
        await _cluster.ProduceAsync(topic, [(0, "k1"u8.ToArray(), valueBytes[0]), (0, "k2"u8.ToArray(), valueBytes[1]), (0, "k3"u8.ToArray(), null)]);
        var schemaId = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(valueBytes[0].AsSpan(1));

        var json = await DeliverAsync(registry, topic, "json", 3);
        var form = await DeliverAsync(registry, topic, "form", 3);

        using (var first = JsonDocument.Parse(json[0].Body))
        {
            var value = first.RootElement.GetProperty("value");
            Assert.Equal(JsonValueKind.Object, value.ValueKind);
            Assert.Equal("""{"id":1,"item":"book","tags":["a","b"],"note":null}""", value.GetRawText());
            Assert.Equal(schemaId, first.RootElement.GetProperty("value_schema_id").GetInt32());
            Assert.Equal("k1", first.RootElement.GetProperty("key").GetString());
        }

        using (var second = JsonDocument.Parse(json[1].Body))
            Assert.Equal("gift", second.RootElement.GetProperty("value").GetProperty("note").GetString());
        using (var tombstone = JsonDocument.Parse(json[2].Body))
        {
            Assert.Equal(JsonValueKind.Null, tombstone.RootElement.GetProperty("value").ValueKind);
            Assert.False(tombstone.RootElement.TryGetProperty("value_schema_id", out _));
        }

        Assert.Equal("""{"id":1,"item":"book","tags":["a","b"],"note":null}""", form[0].FormValue("m"));
        Assert.Equal("""{"id":2,"item":"pen","tags":["a","b"],"note":"gift"}""", form[1].FormValue("m"));
        Assert.Null(form[2].FormValueBytes("m"));
        foreach (var request in json.Take(2).Concat(form.Take(2)))
            Assert.Equal(schemaId.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header(RequestBuilder.ValueSchemaIdHeader));
        Assert.Null(json[2].Header(RequestBuilder.ValueSchemaIdHeader));
        Assert.True(registry.Unknown.Count == 0, string.Join("\n", registry.Unknown));
    }

    [Fact]
    public async Task Protobuf_JsonAndForm_EndpointReceivesProto3Json_MessageIndexesFollowed_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("protobuf", 1);
        // google/protobuf/type.proto, registered as a producer's serializer would (its imports are well-known types).
        var file = Google.Protobuf.WellKnownTypes.TypeReflection.Descriptor;
        var id = registry.Add("PROTOBUF", "syntax = \"proto3\"; // text form, not read by kcp", $"{topic}-value", Convert.ToBase64String(file.SerializedData.ToByteArray()));
        var type = ProtobufJsonTests.SampleType();
        var field = type.Fields[1];
        // Type is message 0 (indexes written as the single byte 0); Field is message 1 (count 1, index 1, zigzag).
        byte[] first = [.. Header(id), 0, .. Google.Protobuf.MessageExtensions.ToByteArray(type)];
        byte[] second = [.. Header(id), 2, 2, .. Google.Protobuf.MessageExtensions.ToByteArray(field)];
        await _cluster.ProduceAsync(topic, [(0, null, first), (0, null, second)]);

        var json = await DeliverAsync(registry, topic, "json", 2, new Dictionary<string, object> { ["value_format"] = "protobuf" });
        var form = await DeliverAsync(registry, topic, "form", 2, new Dictionary<string, object> { ["value_format"] = "protobuf" });

        var expected = new[] { Google.Protobuf.JsonFormatter.Default.Format(type), Google.Protobuf.JsonFormatter.Default.Format(field) };
        for (var i = 0; i < 2; i++)
        {
            using var envelope = JsonDocument.Parse(json[i].Body);
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(expected[i]), System.Text.Json.Nodes.JsonNode.Parse(envelope.RootElement.GetProperty("value").GetRawText())), envelope.RootElement.GetRawText());
            Assert.Equal(id, envelope.RootElement.GetProperty("value_schema_id").GetInt32());
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(expected[i]), System.Text.Json.Nodes.JsonNode.Parse(form[i].FormValue("m")!)));
        }

        Assert.Contains(registry.Requests, r => r == $"GET /schemas/ids/{id}?format=serialized");
        Assert.Equal("SYNTAX_PROTO3", JsonDocument.Parse(json[0].Body).RootElement.GetProperty("value").GetProperty("syntax").GetString());
    }

    [Fact]
    public async Task JsonSchema_JsonBatchAndForm_EndpointReceivesThePayloadAsJson_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("jsonschema", 1);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.BaseAddress.ToString() });
        var serializer = new JsonSerializer<Parcel>(client);
        var values = new List<byte[]>();
        foreach (var parcel in new[] { new Parcel { Id = 7, Label = "fragile" }, new Parcel { Id = 8, Label = "ünïcode" } })
            values.Add(await serializer.SerializeAsync(parcel, new SerializationContext(MessageComponentType.Value, topic)));
        await _cluster.ProduceAsync(topic, values.Select(v => (0, (byte[]?)null, (byte[]?)v)));

        var batch = await DeliverAsync(registry, topic, "json", 2, new Dictionary<string, object> { ["batch_size"] = 10, ["batch_linger_ms"] = 200 });
        var form = await DeliverAsync(registry, topic, "form", 2);

        var envelopes = batch.SelectMany(r => JsonDocument.Parse(r.Body).RootElement.EnumerateArray().ToList()).ToList();
        Assert.Equal([7, 8], envelopes.Select(e => e.GetProperty("value").GetProperty("Id").GetInt32()));
        Assert.Equal("ünïcode", envelopes[1].GetProperty("value").GetProperty("Label").GetString());
        Assert.All(batch, r => Assert.NotNull(r.Header(RequestBuilder.ValueSchemaIdHeader)));
        using var parsed = JsonDocument.Parse(form[0].FormValue("m")!);
        Assert.Equal(7, parsed.RootElement.GetProperty("Id").GetInt32());
    }

    [Fact]
    public async Task KeyFormatAvro_KeyDecodedBesideABytesValue_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("avro-key", 1);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.BaseAddress.ToString() });
        var key = await new AvroSerializer<string>(client).SerializeAsync("order-7", new SerializationContext(MessageComponentType.Key, topic));
        await _cluster.ProduceAsync(topic, [(0, key, "plain value"u8.ToArray()), (0, null, "no key"u8.ToArray())]);

        var json = await DeliverAsync(registry, topic, "json", 2, new Dictionary<string, object> { ["value_format"] = "bytes", ["key_format"] = "avro" });

        using var first = JsonDocument.Parse(json[0].Body);
        Assert.Equal("order-7", first.RootElement.GetProperty("key").GetString());
        Assert.True(first.RootElement.TryGetProperty("key_schema_id", out _));
        Assert.Equal("plain value", first.RootElement.GetProperty("value").GetString());
        Assert.Equal("%22order-7%22", json[0].Header("X-Kafka-Key"));
        Assert.NotNull(json[0].Header(RequestBuilder.KeySchemaIdHeader));
        Assert.Null(json[0].Header(RequestBuilder.ValueSchemaIdHeader));
        using var second = JsonDocument.Parse(json[1].Body);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("key").ValueKind);
    }

    [Fact]
    public async Task RegistryDown_MessageWaitsAndIsDeliveredOnceItIsBack_NoneSkipped_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("avro-down", 1);
        var values = await AvroAsync(registry, topic, [Order(1, "a", null), Order(2, "b", null)]);
        await _cluster.ProduceAsync(topic, values.Select(v => (0, (byte[]?)null, (byte[]?)v)));
        registry.Down = true;
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = NewConfig(registry);
        // retry_nums 0 with can_skip: any failure that counted would skip the message at once.
        config.AddRoute("down", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
        {
            ["value_format"] = "avro", ["format"] = "json", ["can_skip"] = true, ["retry_nums"] = 0, ["retry_interval_ms"] = 50,
        });
        await using var proxy = InProcessProxy.Start(config.ConfigFile);

        await Eventually.TrueAsync(() => registry.Requests.Count(r => r.StartsWith("GET /schemas/ids/", StringComparison.Ordinal)) >= 3, "kcp asking the registry that is down again", Patience, () => string.Join(", ", registry.Requests));
        Assert.Empty(receiver.Requests);
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "a message was skipped while the registry was down");
        registry.Down = false;

        await receiver.WaitForCountAsync(2, Patience);
        Assert.Equal([0L, 1L], receiver.Requests.Select(r => r.Offset!.Value).Order());
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "a message was skipped for the registry's outage");
        Assert.Contains(proxy.Logs, l => l.Contains("registry_unavailable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownSchemaIdAndNotWireFormat_SkippedAsDecodeToTheDeadLetterTopic_OthersDelivered_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("avro-bad", 1);
        var dlq = _cluster.CreateTopic("avro-bad-dlq", 1);
        var good = await AvroAsync(registry, topic, [Order(1, "a", null), Order(3, "c", null)]);
        byte[] unknownId = [0, 0, 0, 0x27, 0x0F, 2, 2, (byte)'x'];
        var plain = "{\"id\":2}"u8.ToArray();
        await _cluster.ProduceAsync(topic, [(0, null, good[0]), (0, null, plain), (0, null, unknownId), (0, null, good[1])]);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = NewConfig(registry);
        config.AddRoute("bad", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
        {
            ["value_format"] = "avro", ["format"] = "json", ["can_skip"] = true, ["retry_nums"] = 5, ["dead_letter_topic"] = dlq,
        });
        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(2, Patience);
            await Eventually.ValueAsync(() => File.Exists(config.SkipFile) ? File.ReadAllLines(config.SkipFile).Length : 0, n => n == 2, "two skip records", Patience);
        }

        Assert.Equal([0L, 3L], receiver.Requests.Select(r => r.Offset!.Value).Order());
        var skips = File.ReadAllLines(config.SkipFile).Select(l => JsonDocument.Parse(l).RootElement).OrderBy(r => r.GetProperty("offset").GetInt64()).ToList();
        Assert.All(skips, s => Assert.Equal("decode", s.GetProperty("kind").GetString()));
        Assert.Contains("not the magic byte 0x00", skips[0].GetProperty("last_failure").GetString(), StringComparison.Ordinal);
        Assert.Contains("schema id 9999 is not in the schema registry (HTTP 404", skips[1].GetProperty("last_failure").GetString(), StringComparison.Ordinal);
        var dead = DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1);
        Assert.Equal([plain, unknownId], dead.Select(d => d.Message.Value));
        Assert.All(dead, d => Assert.Equal("decode", Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("kcp.dlq.kind"))));
    }

    [Fact]
    public async Task NotWireFormat_CanSkipFalse_RetriedAndShownFailing_NeverSent_Issue21()
    {
        await using var registry = await RegistryStandIn.StartAsync();
        var topic = _cluster.CreateTopic("avro-noskip", 1);
        await _cluster.ProduceAsync(topic, [(0, null, "plain"u8.ToArray())]);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = NewConfig(registry);
        config.AddRoute("noskip", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["value_format"] = "avro", ["retry_interval_ms"] = 20 });
        await using var proxy = InProcessProxy.Start(config.ConfigFile);

        await proxy.WaitForLogsAsync(lines => lines.Any(l => l.Contains("decode_error", StringComparison.Ordinal) && l.Contains("is not in the Confluent wire format", StringComparison.Ordinal)), "the decode failure logged", Patience);
        Assert.Empty(receiver.Requests);
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "skipped on a route with can_skip: false");
    }

    private async Task<IReadOnlyList<ReceivedRequest>> DeliverAsync(RegistryStandIn registry, string topic, string format, int count, Dictionary<string, object>? more = null)
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = NewConfig(registry);
        var keys = new Dictionary<string, object> { ["value_format"] = topic.StartsWith("jsonschema", StringComparison.Ordinal) ? "json_schema" : "avro", ["format"] = format };
        foreach (var (key, value) in more ?? [])
            keys[key] = value;
        config.AddRoute(format, topic, Names.Unique("g"), receiver.Port, keys);
        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        if (more?.ContainsKey("batch_size") == true)
            await receiver.WaitForAsync(r => r.Sum(q => int.Parse(q.Header("X-Kafka-Batch-Size") ?? "1", System.Globalization.CultureInfo.InvariantCulture)) >= count, Patience);
        else
            await receiver.WaitForCountAsync(count, Patience);
        return [.. receiver.Requests.OrderBy(r => r.Offset ?? 0)];
    }

    private ProxyConfigWriter NewConfig(RegistryStandIn registry)
    {
        var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddSchemaRegistry("default", new Dictionary<string, string> { ["url"] = $"\"{registry.BaseAddress}\"" });
        return config;
    }

    private static byte[] Header(int id)
    {
        var header = new byte[5];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), id);
        return header;
    }

    private static GenericRecord Order(long id, string item, string? note)
    {
        var order = new GenericRecord(OrderSchema);
        order.Add("id", id);
        order.Add("item", item);
        order.Add("tags", new object[] { "a", "b" });
        order.Add("note", note);
        return order;
    }

    private static async Task<List<byte[]>> AvroAsync(RegistryStandIn registry, string topic, IEnumerable<GenericRecord> records)
    {
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.BaseAddress.ToString() });
        var serializer = new AvroSerializer<GenericRecord>(client);
        var values = new List<byte[]>();
        foreach (var record in records)
            values.Add(await serializer.SerializeAsync(record, new SerializationContext(MessageComponentType.Value, topic)));
        return values;
    }

    /// <summary>A JSON Schema record type; its schema is generated by the serializer.</summary>
    public sealed class Parcel
    {
        public int Id { get; set; }

        public string Label { get; set; } = "";
    }
}
