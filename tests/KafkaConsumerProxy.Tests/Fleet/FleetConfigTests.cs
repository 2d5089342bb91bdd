using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Fleet;

/// <summary>The <c>fleet</c> section of kcp.yaml: off without it, defaults with <c>fleet: {}</c>, every bad value named.</summary>
public sealed class FleetConfigTests
{
    private static (KcpConfig? Config, IReadOnlyList<ConfigError> Errors, string File) Load(string? section)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("a", "orders", "billing", 8080);
        if (section is not null)
            config.AppendMain(section);
        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);
        return (loaded, errors, config.ConfigFile);
    }

    [Fact]
    public void NoSection_Off_EmptySection_Defaults_Issue17()
    {
        Assert.False(Load(null).Config!.Fleet.Enabled);
        var (config, errors, _) = Load("fleet: {}\n");
        Assert.Empty(errors);
        Assert.Equal((true, "_kcp_control", 3000), (config!.Fleet.Enabled, config.Fleet.ControlTopic, config.Fleet.HeartbeatMs));
    }

    [Fact]
    public void Section_TopicAndHeartbeat_Read_Issue17()
    {
        var (config, errors, _) = Load("fleet:\n  control_topic: ops.kcp-control\n  heartbeat_ms: 500\n");
        Assert.Empty(errors);
        Assert.Equal(("ops.kcp-control", 500), (config!.Fleet.ControlTopic, config.Fleet.HeartbeatMs));
    }

    [Theory]
    [InlineData("fleet:\n  control_topic: \"a b\"\n", "fleet.control_topic", "a b", "only ASCII letters, digits, '.', '_' and '-'")]
    [InlineData("fleet:\n  control_topic: \"..\"\n", "fleet.control_topic", "..", "not . or ..")]
    [InlineData("fleet:\n  heartbeat_ms: 10\n", "fleet.heartbeat_ms", "10", "from 100 to 60000")]
    [InlineData("fleet:\n  members: 3\n", "fleet.members", null, "unknown key")]
    [InlineData("fleet: yes\n", "fleet", null, "a mapping with control_topic and heartbeat_ms")]
    public void BadSection_ErrorNamesFileKeyAndValue_Issue17(string section, string key, string? value, string message)
    {
        var (config, errors, file) = Load(section);

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal((file, key), (error.File, error.Key));
        if (value is not null)
            Assert.Equal(value, error.Value);
        Assert.Contains(message, error.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
