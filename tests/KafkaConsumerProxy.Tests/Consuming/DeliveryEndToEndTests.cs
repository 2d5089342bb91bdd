using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>The proxy against the embedded cluster and a real HTTP endpoint: what arrives, in what order, what is committed.</summary>
public sealed class DeliveryEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public DeliveryEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task CleanRun_EightPartitions_EveryOffsetArrivesOnceInOrderAndIsCommitted()
    {
        const int Partitions = 8, PerPartition = 150;
        var topic = _cluster.CreateTopic("clean", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("clean", topic, group, receiver.Port, new Dictionary<string, object> { ["concurrency"] = 2 });
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
            await proxy.StopAsync();
        }

        Delivered.AssertExactlyOnceInOrder(receiver.Requests, expected);
        var request = receiver.Requests[0];
        Assert.Equal($"{request.Partition}-{request.Offset}", request.FormValue("m"));
        Assert.Equal(request.Partition.ToString(), request.FormValue("p"));
        Assert.Equal(request.Offset.ToString(), request.FormValue("o"));
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task RandomFailures_ThirtyPercent_NothingLostAndPartitionOrderKept()
    {
        const int Partitions = 4, PerPartition = 60;
        var topic = _cluster.CreateTopic("flaky", Partitions);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Random(0.3, seed: 7, Fault.Errno()));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("flaky", topic, Names.Unique("g"), receiver.Port);
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);

        var requests = receiver.Requests;
        Delivered.AssertExactlyOnceInOrder(requests, expected);
        Delivered.AssertAttemptsInOrder(requests);
        Assert.Contains(requests, r => r.Fault.IsFailure);
        Assert.Contains(proxy.Logs, l => l.Contains("failed (attempt 1): rejected_body", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CanSkipFalse_FailingMessage_RetriedUntilItSucceedsAndReportedBlocked()
    {
        var topic = _cluster.CreateTopic("noskip", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 5));
        var failures = 0;
        await using var receiver = await RecordingReceiver.StartAsync(r =>
            r.Offset == 2 && Interlocked.Increment(ref failures) <= 12 ? Fault.Status(503) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("noskip", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["retry_nums"] = 1 });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 5 }, Patience);

        Assert.Equal(13, receiver.Requests.Count(r => r.Offset == 2));
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = 5 });
        Assert.Contains(proxy.Logs, l => l.Contains("@2 is blocked: 10 failed attempts", StringComparison.Ordinal));
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0);
    }

    [Fact]
    public async Task CanSkipTrue_PoisonMessage_SkippedAfterRetryNumsPlusOneAttemptsWithRecord()
    {
        var topic = _cluster.CreateTopic("skip", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 6));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 3, Fault.Errno(7, "poison")));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("skip", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = true, ["retry_nums"] = 2 });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => r.Accepted().Count() == 5, Patience);
            await proxy.WaitForLogAsync("skipped " + topic + "/0@3 after 3 attempt(s)", Patience);
            await proxy.StopAsync();
        }

        Assert.Equal(3, receiver.Requests.Count(r => r.Offset == 3));
        Assert.Equal([0L, 1, 2, 4, 5], receiver.Requests.Accepted().Select(r => r.Offset!.Value));
        var record = JsonDocument.Parse(File.ReadAllLines(config.SkipFile).Single()).RootElement;
        Assert.Equal("skip", record.GetProperty("route").GetString());
        Assert.Equal(topic, record.GetProperty("topic").GetString());
        Assert.Equal(0, record.GetProperty("partition").GetInt32());
        Assert.Equal(3, record.GetProperty("offset").GetInt64());
        Assert.Equal("key-3", record.GetProperty("key").GetString());
        Assert.Equal(3, record.GetProperty("attempts").GetInt32());
        Assert.Contains("errno 7", record.GetProperty("last_failure").GetString(), StringComparison.Ordinal);
        Assert.False(record.GetProperty("manual").GetBoolean());
        Assert.True(record.TryGetProperty("time", out _));
        Assert.Equal(6, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task StuckPartition_FailingForever_OtherPartitionsStillDelivered()
    {
        const int Partitions = 4, PerPartition = 20;
        var topic = _cluster.CreateTopic("stuck", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(1, 0, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("stuck", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            var others = Enumerable.Range(0, Partitions).Where(p => p != 1).ToDictionary(p => p, _ => PerPartition);
            await DeliveryAssert.AllArrivedAsync(receiver, others, Patience);
            Assert.DoesNotContain(receiver.Requests, r => r.Partition == 1 && r.Offset > 0);
            await proxy.StopAsync();
        }

        var committed = Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions);
        Assert.True(committed[1] < 0, $"partition 1 must not be committed past the stuck message, was {committed[1]}");
        Assert.Equal(PerPartition, committed[0]);
    }

    [Fact]
    public async Task ExecTimeout_SlowEndpoint_AttemptFailsAsTimeoutThenRetried()
    {
        var topic = _cluster.CreateTopic("slow", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        // The first answer comes after exec_timeout_ms; the later ones are slower than slow_time_ms but in time.
        var first = FaultScript.FailTimes(1, Fault.Delayed(TimeSpan.FromSeconds(3)));
        await using var receiver = await RecordingReceiver.StartAsync(r => first(r) is { Delay.TotalSeconds: > 1 } timeout ? timeout : Fault.Delayed(TimeSpan.FromMilliseconds(60)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("slow", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["exec_timeout_ms"] = 300, ["slow_time_ms"] = 30 });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Count >= 3, Patience);
        await proxy.WaitForLogAsync("failed (attempt 1): timeout", Patience);
        // Offset 0 was slow on its retry (the delivery loop), offset 1 on its first attempt (the single-message path).
        await proxy.WaitForLogAsync($"slow delivery of {topic}/0@0", Patience);
        await proxy.WaitForLogAsync($"slow delivery of {topic}/0@1", Patience);
    }

    [Fact]
    public async Task ConnectTimeout_UnansweredConnect_FailsAsConnectTimeout()
    {
        var topic = _cluster.CreateTopic("conn", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 1));
        using var blackhole = BlackholeListener.Start();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("conn", topic, Names.Unique("g"), blackhole.Port, new Dictionary<string, object>
        {
            ["conn_timeout_ms"] = 200, ["exec_timeout_ms"] = 10000, ["can_skip"] = true, ["retry_nums"] = 0,
        });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await proxy.WaitForLogAsync("after 1 attempt(s); last failure: connect_timeout", Patience);
    }

    [Fact]
    public async Task Headers_DomainAndKafkaMetadata_SentWithEveryRequest()
    {
        var topic = _cluster.CreateTopic("headers", 1);
        await _cluster.ProduceAsync(topic, [(0, [0x6B, 0x20, 0xFF], Encoding.UTF8.GetBytes("v"))]);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("headers", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["domain"] = "orders.internal", ["url"] = "/inner/mqdemo/test" });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForCountAsync(1, Patience);

        var request = receiver.Requests[0];
        Assert.Equal("POST", request.Method);
        Assert.Equal("/inner/mqdemo/test", request.Path);
        Assert.Equal("orders.internal", request.Header("Host"));
        Assert.Equal($"{topic}/0/0", request.Header("Idempotency-Key"));
        Assert.Equal(topic, request.Header("X-Kafka-Topic"));
        Assert.Equal("0", request.Header("X-Kafka-Partition"));
        Assert.Equal("0", request.Header("X-Kafka-Offset"));
        Assert.True(long.Parse(request.Header("X-Kafka-Timestamp")!) > 1_700_000_000_000);
        Assert.Equal("k%20%FF", request.Header("X-Kafka-Key"));
        Assert.StartsWith("application/x-www-form-urlencoded", request.Header("Content-Type"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralHosts_OneRefusing_RequestsSpreadAndRetriesFailOver()
    {
        var topic = _cluster.CreateTopic("hosts", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 10));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // 127.0.0.3 has nothing listening: connections are refused and each retry moves to the next host.
        config.AddRoute("hosts", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["host"] = "127.0.0.1, localhost, 127.0.0.3" });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 10 }, Patience);

        var hosts = receiver.Requests.Select(r => r.Header("Host")!.Split(':')[0]).Distinct().Order().ToList();
        Assert.Equal(["127.0.0.1", "localhost"], hosts);
        Assert.Contains(proxy.Logs, l => l.Contains("connection_error from 127.0.0.3", StringComparison.Ordinal));
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = 10 });
    }

    [Fact]
    public async Task Values_BinaryEmptyNullAndOneMebibyte_ArriveByteExact()
    {
        var topic = _cluster.CreateTopic("values", 1);
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var large = new byte[1024 * 1024];
        new Random(3).NextBytes(large);
        await EmbeddedProducerWithLargeMessages(topic, [(0, null, binary), (0, null, []), (0, null, null), (0, null, large)]);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("values", topic, Names.Unique("g"), receiver.Port);

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForCountAsync(4, Patience);

        var byOffset = receiver.Requests.ToDictionary(r => r.Offset!.Value);
        Assert.Equal(binary, byOffset[0].FormValueBytes("m"));
        Assert.Equal(0, byOffset[1].FormValueBytes("m")?.Length);
        Assert.Null(byOffset[2].FormValueBytes("m"));
        Assert.Equal("2", byOffset[2].FormValue("o"));
        Assert.Equal(large, byOffset[3].FormValueBytes("m"));
    }

    private Task EmbeddedProducerWithLargeMessages(string topic, IEnumerable<(int, byte[]?, byte[]?)> messages) =>
        KafkaConsumerProxy.Embedded.EmbeddedProducer.ProduceAsync(_cluster.BootstrapServers, topic, messages, c => c.MessageMaxBytes = 4 * 1024 * 1024);
}
