using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>The route key <c>max_pending_bytes</c> and the client prefetch that follows it (issue 7, section 7).</summary>
public sealed class MaxPendingBytesTests
{
    [Fact]
    public void Load_KeyNotGiven_Default24MiBAndPrefetch4MiB()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);

        var route = Assert.Single(ConfigLoader.Load(config.ConfigFile).Routes);

        Assert.Equal(24 * 1024 * 1024, route.Delivery.MaxPendingBytes);
        var settings = ConsumerSettings.Create(route, new ClusterDefinition("default", "x", new Dictionary<string, string>()), 0);
        Assert.Equal("4096", settings.Get("queued.max.messages.kbytes"));
        Assert.Equal("5000", settings.Get("queued.min.messages"));
        Assert.Equal("20", settings.Get("fetch.queue.backoff.ms"));
    }

    [Fact]
    public void Create_ClusterConsumerConfSetsFetchQueueBackoff_ItsValueWins_Issue12()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);
        var route = Assert.Single(ConfigLoader.Load(config.ConfigFile).Routes);

        var settings = ConsumerSettings.Create(route, new ClusterDefinition("default", "x", new Dictionary<string, string> { ["fetch.queue.backoff.ms"] = "500" }), 0);

        Assert.Equal("500", settings.Get("fetch.queue.backoff.ms"));
    }

    [Theory]
    [InlineData(1024, 1)]
    [InlineData(1_048_576, 1024)]
    [InlineData(1_073_741_824, 4096)]
    public void Load_InRange_TakenAndPrefetchNeverAboveIt(int bytes, int prefetchKbytes)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["max_pending_bytes"] = bytes });

        var route = Assert.Single(ConfigLoader.Load(config.ConfigFile).Routes);

        Assert.Equal(bytes, route.Delivery.MaxPendingBytes);
        Assert.Equal(prefetchKbytes, ConsumerSettings.PrefetchKbytes(route.Delivery.MaxPendingBytes));
    }

    [Theory]
    [InlineData("1023")]
    [InlineData("1073741825")]
    [InlineData("64MiB")]
    public void Load_OutOfRangeOrNotAnInteger_ReportsKeyValueAndRange(string value)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["max_pending_bytes"] = new Raw(value) });

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Contains($"'max_pending_bytes' = '{value}': must be an integer from 1024 to 1073741824", error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A YAML scalar written as is.</summary>
    private sealed record Raw(string Text)
    {
        public override string ToString() => Text;
    }
}
