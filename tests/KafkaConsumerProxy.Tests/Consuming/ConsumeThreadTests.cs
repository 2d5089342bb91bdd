using System.Collections.Concurrent;
using System.Reflection;
using Confluent.Kafka;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// The Kafka consumer of a route member is used on its consume thread only: the partition workers' bounds pause and
/// resume fetching from completion threads by asking, and the loop applies what they ask.
/// </summary>
public sealed class ConsumeThreadTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public ConsumeThreadTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task FetchBounds_PausedAndResumedManyTimes_EveryConsumerCallOnTheConsumeThreadAndEveryOffsetDelivered_Issue16()
    {
        const int Partitions = 2, PerPartition = 300;
        var topic = _cluster.CreateTopic("consume-thread", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        // Answers come a little late, so each partition fills max_pending and is resumed once deliveries drain it.
        await using var receiver = await RecordingReceiver.StartAsync(_ => Fault.Delayed(TimeSpan.FromMilliseconds(2)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("thread", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["concurrency"] = 1, ["async_concurrency"] = 4, ["max_pending"] = 8,
            ["consumer_conf"] = new Dictionary<string, string> { ["fetch.wait.max.ms"] = "10" },
        });
        var consumers = new ConcurrentQueue<ThreadWatchingConsumer>();
        using var wrap = InjectedFaults.WrapConsumers(topic, inner =>
        {
            var watching = ThreadWatchingConsumer.Around(inner);
            consumers.Enqueue(watching);
            return (IConsumer<byte[]?, byte[]?>)(object)watching;
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, DeliveryAssert.Offsets(Partitions, PerPartition), Patience);
            await proxy.StopAsync();
        }

        DeliveryAssert.AllOnce(DeliveryAssert.Offsets(Partitions, PerPartition), receiver.Requests);
        var watched = Assert.Single(consumers);
        Assert.True(watched.Count("Resume") >= 10, $"the bounds should pause and resume fetching often; calls: {watched.Summary()}");
        Assert.True(watched.Foreign.IsEmpty, "consumer used off its consume thread: " + string.Join(", ", watched.Foreign));
    }
}

/// <summary>
/// Stands between a route member and its consumer, passing every call on; notes each call's method and whether it came
/// from another thread than the first call (the member's consume thread, where it subscribes).
/// </summary>
public class ThreadWatchingConsumer : DispatchProxy
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private IConsumer<byte[]?, byte[]?>? _inner;
    private int _owner;

    /// <summary>The calls made from another thread: method and thread id.</summary>
    public ConcurrentQueue<string> Foreign { get; } = new();

    public static ThreadWatchingConsumer Around(IConsumer<byte[]?, byte[]?> inner)
    {
        var proxy = (ThreadWatchingConsumer)(object)Create<IConsumer<byte[]?, byte[]?>, ThreadWatchingConsumer>();
        proxy._inner = inner;
        return proxy;
    }

    public int Count(string method) => _counts.GetValueOrDefault(method);

    public string Summary() => string.Join(", ", _counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var thread = Environment.CurrentManagedThreadId;
        var owner = Interlocked.CompareExchange(ref _owner, thread, 0);
        if (owner != 0 && owner != thread)
        {
            Foreign.Enqueue($"{targetMethod.Name} on thread {thread} (consume thread {owner})");
        }

        _counts.AddOrUpdate(targetMethod.Name, 1, (_, n) => n + 1);
        return Forwarding.Call(_inner!, targetMethod, args);
    }
}
