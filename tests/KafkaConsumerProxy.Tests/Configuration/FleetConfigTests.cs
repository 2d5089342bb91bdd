using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>The settings of a fleet of instances (issue 17): the route key <c>assignor</c> and kcp.yaml's <c>shutdown_timeout_ms</c>.</summary>
public sealed class FleetConfigTests
{
    private static readonly ClusterDefinition Plain = new("default", "x", new Dictionary<string, string>());

    [Fact]
    public void Load_AssignorNotGiven_CooperativeSticky_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);

        var route = Assert.Single(ConfigLoader.Load(config.ConfigFile).Routes);

        Assert.Equal("cooperative-sticky", route.Assignor);
        Assert.Equal("cooperative-sticky", ConsumerSettings.Create(route, Plain, 0).Get("partition.assignment.strategy"));
    }

    [Theory]
    [InlineData("range", "range")]
    [InlineData("RoundRobin", "roundrobin")]
    [InlineData("cooperative-sticky", "cooperative-sticky")]
    public void Load_AssignorGiven_IsTheMembersStrategy_Issue17(string written, string strategy)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["assignor"] = written });

        var route = Assert.Single(ConfigLoader.Load(config.ConfigFile).Routes);

        Assert.Equal(strategy, ConsumerSettings.Create(route, Plain, 0).Get("partition.assignment.strategy"));
    }

    [Fact]
    public void Load_AssignorUnknown_ReportsFileKeyValueAndChoices_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        var file = config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["assignor"] = "sticky" });

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Equal(file, error.File);
        Assert.Contains("'assignor' = 'sticky': must be one of: cooperative-sticky, range, roundrobin", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AssignorAndStrategyInClusterConsumerConf_Refused_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092", new Dictionary<string, string> { ["partition.assignment.strategy"] = "range" });
        config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["assignor"] = "roundrobin" });

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Contains("'assignor' = 'roundrobin': conflicts with partition.assignment.strategy in cluster 'default' consumer_conf; set the assignor in one place only", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_StrategyInConsumerConfOnly_StillWins_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092", new Dictionary<string, string> { ["partition.assignment.strategy"] = "range" });
        config.AddRoute("r", "t", "g", 8080);
        var loaded = ConfigLoader.Load(config.ConfigFile);

        var route = Assert.Single(loaded.Routes);

        Assert.Equal("range", ConsumerSettings.Create(route, loaded.Clusters["default"], 0).Get("partition.assignment.strategy"));
    }

    [Fact]
    public void Load_StrategyMixingCooperativeAndEager_RefusedByLibrdkafkaCheck_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080, new Dictionary<string, object> { ["consumer_conf"] = new Dictionary<string, string> { ["partition.assignment.strategy"] = "range,cooperative-sticky" } });

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Contains("consumer_conf", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("same protocol type", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ShutdownTimeoutNotGiven_30Seconds_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);

        var loaded = ConfigLoader.Load(config.ConfigFile);

        Assert.Equal(TimeSpan.FromSeconds(30), loaded.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(55), loaded.LongestStop);
    }

    [Fact]
    public void Load_ShutdownTimeoutGiven_Taken_Issue17()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);
        config.AppendMain("shutdown_timeout_ms: 5000");

        Assert.Equal(TimeSpan.FromSeconds(5), ConfigLoader.Load(config.ConfigFile).ShutdownTimeout);
    }

    [Theory]
    [InlineData("999")]
    [InlineData("600001")]
    [InlineData("30s")]
    public void Load_ShutdownTimeoutOutOfRange_ReportsFileKeyValueAndRange_Issue17(string value)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);
        config.AppendMain($"shutdown_timeout_ms: {value}");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Equal(config.ConfigFile, error.File);
        Assert.Contains($"'shutdown_timeout_ms' = '{value}': must be an integer from 1000 to 600000", error.ToString(), StringComparison.Ordinal);
    }
}
