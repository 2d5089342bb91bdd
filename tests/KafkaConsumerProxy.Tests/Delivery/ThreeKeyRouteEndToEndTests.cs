using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>A route of three keys (topic, group, endpoint) delivers through the real loader, consumer and endpoint.</summary>
public sealed class ThreeKeyRouteEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public ThreeKeyRouteEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task ThreeKeyRoute_TopicGroupEndpoint_EveryMessageDeliveredInOrderAndCommitted_Issue19()
    {
        const int Count = 30;
        var topic = _cluster.CreateTopic("three-keys", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Count));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        File.WriteAllText(Path.Combine(config.RoutesDir, "orders.yaml"), $"topic: {topic}\ngroup: {group}\nendpoint: {receiver.Url("/hook/orders")}\n");

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(Count, Patience);
            await proxy.StopAsync();
        }

        Assert.All(receiver.Requests, r => Assert.Equal("/hook/orders", r.Path));
        Assert.Equal(Enumerable.Range(0, Count).Select(o => (long?)o), receiver.Requests.Select(r => r.Offset));
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }
}
