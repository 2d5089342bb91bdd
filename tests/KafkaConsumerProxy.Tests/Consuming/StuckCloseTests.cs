using System.Diagnostics;
using System.Reflection;
using Confluent.Kafka;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// librdkafka's close can block for good (librdkafka issue 4041: the rebalance protocol asked for from the revoke that
/// the close makes). A stop must still end, with what was delivered committed.
/// </summary>
public sealed class StuckCloseTests : IClassFixture<TestCluster>
{
    private readonly TestCluster _cluster;

    public StuckCloseTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Stop_KafkaClientCloseNeverReturns_StopEndsAfterTheLeaveBound_LoggedAndEveryDeliveryCommitted()
    {
        const int Messages = 20;
        var topic = _cluster.CreateTopic("stuck-close", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Messages));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("stuck", topic, group, receiver.Port);
        using var release = new ManualResetEventSlim();
        using var wrap = InjectedFaults.WrapConsumers(topic, inner => (IConsumer<byte[]?, byte[]?>)(object)CloseHoldingConsumer.Around(inner, release));
        try
        {
            var proxy = InProcessProxy.Start(config.ConfigFile);
            await DeliveryAssert.AllArrivedAsync(receiver, DeliveryAssert.Offsets(1, Messages), TimeSpan.FromSeconds(60));

            var clock = Stopwatch.StartNew();
            await proxy.StopAsync();

            Assert.True(clock.Elapsed >= RouteMember.LeaveBound - TimeSpan.FromSeconds(1), $"the stop ended after {clock.Elapsed}, before the bound");
            Assert.Contains(proxy.Logs, l => l.Contains("leaving the group has not finished after 15 s", StringComparison.Ordinal));
            Assert.Equal(Messages, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        }
        finally
        {
            // The held close goes on, so the client is closed before the cluster goes.
            release.Set();
        }
    }
}

/// <summary>Passes every call to the consumer, except that <c>Close</c> waits until the test releases it.</summary>
public class CloseHoldingConsumer : DispatchProxy
{
    private IConsumer<byte[]?, byte[]?>? _inner;
    private ManualResetEventSlim? _release;

    public static CloseHoldingConsumer Around(IConsumer<byte[]?, byte[]?> inner, ManualResetEventSlim release)
    {
        var proxy = (CloseHoldingConsumer)(object)Create<IConsumer<byte[]?, byte[]?>, CloseHoldingConsumer>();
        proxy._inner = inner;
        proxy._release = release;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(IConsumer<byte[], byte[]>.Close))
        {
            _release!.Wait();
        }

        return Forwarding.Call(_inner!, targetMethod, args);
    }
}
