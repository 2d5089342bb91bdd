using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Tests.Routes;

public sealed class RouteComparisonTests
{
    [Fact]
    public void Same_EqualValuesInNewCollections_IsSame()
    {
        var a = Route(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        var b = Route(new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });
        b = b with { Endpoint = b.Endpoint with { Hosts = ["h1", "h2"] } };

        Assert.True(RouteComparison.Same(a, b));
    }

    [Fact]
    public void Same_AnyKeyChanged_IsNotSame()
    {
        var a = Route(new Dictionary<string, string> { ["a"] = "1" });

        Assert.False(RouteComparison.Same(a, a with { Endpoint = a.Endpoint with { Url = "/v2" } }));
        Assert.False(RouteComparison.Same(a, a with { Endpoint = a.Endpoint with { Hosts = ["h2", "h1"] } }));
        Assert.False(RouteComparison.Same(a, a with { ConsumerConf = new Dictionary<string, string> { ["a"] = "2" } }));
        Assert.False(RouteComparison.Same(a, a with { ConsumerConf = new Dictionary<string, string> { ["a"] = "1", ["c"] = "3" } }));
        Assert.False(RouteComparison.Same(a, a with { Endpoint = a.Endpoint with { SlowTimeMs = 5 } }));
        Assert.False(RouteComparison.Same(a, a with { Delivery = a.Delivery with { Format = RequestFormat.Json } }));
    }

    [Fact]
    public void Same_Clusters_ComparedByServersAndSettings()
    {
        var a = new ClusterDefinition("default", "b:9092", new Dictionary<string, string> { ["x"] = "1" });

        Assert.True(RouteComparison.Same(a, new ClusterDefinition("default", "b:9092", new Dictionary<string, string> { ["x"] = "1" })));
        Assert.False(RouteComparison.Same(a, a with { BootstrapServers = "c:9092" }));
        Assert.False(RouteComparison.Same(a, a with { ConsumerConf = new Dictionary<string, string>() }));
    }

    private static RouteDefinition Route(Dictionary<string, string> conf) => new()
    {
        Name = "r",
        SourceFile = "/tmp/r.yaml",
        Topic = "t",
        Group = "g",
        Concurrency = 1,
        Endpoint = new EndpointSettings { Hosts = ["h1", "h2"], Port = 80, Url = "/", ConnTimeoutMs = 1000, ExecTimeoutMs = 1000 },
        Retry = new RetrySettings { CanSkip = false, RetryNums = 0, RetryIntervalMs = 10 },
        Offsets = new OffsetSettings { UseSavedOffsetTime = 0 },
        ConsumerConf = conf,
    };
}
