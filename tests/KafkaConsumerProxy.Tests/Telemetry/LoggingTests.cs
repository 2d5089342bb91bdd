using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>The log's format and level: <c>--log-format</c>, <c>--log-level</c> and the <c>logging</c> section of kcp.yaml.</summary>
public sealed class LoggingTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly TestCluster _cluster;

    public LoggingTests(TestCluster cluster) => _cluster = cluster;

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
    public void NoSection_TextAtInformation_Issue18()
    {
        var (config, errors, _) = Load(null);

        Assert.Empty(errors);
        Assert.Equal(("text", "information"), (config!.Logging.Format, config.Logging.Level));
    }

    [Fact]
    public void Section_FormatAndLevel_Read_Issue18()
    {
        var (config, errors, _) = Load("logging:\n  format: json\n  level: Warning\n");

        Assert.Empty(errors);
        Assert.Equal(("json", "warning"), (config!.Logging.Format, config.Logging.Level));
    }

    [Theory]
    [InlineData("logging:\n  level: verbose\n", "logging.level", "verbose", "must be one of: trace, debug, information, warning, error, critical")]
    [InlineData("logging:\n  format: logfmt\n", "logging.format", "logfmt", "must be one of: text, json")]
    [InlineData("logging:\n  colour: true\n", "logging.colour", null, "unknown key")]
    [InlineData("logging: json\n", "logging", null, "a mapping with format")]
    public void BadSection_ErrorNamesFileKeyAndValue_Issue18(string section, string key, string? value, string message)
    {
        var (config, errors, file) = Load(section);

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal((file, key), (error.File, error.Key));
        if (value is not null)
            Assert.Equal(value, error.Value);
        Assert.Contains(message, error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Validate_BadLoggingLevel_Exit2WithTheKeyAndValue_Issue18()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("a", "orders", "billing", 8080);
        config.AppendMain("logging:\n  level: loud\n");
        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Contains(kcp.StdErr, l => l.Contains("logging.level", StringComparison.Ordinal) && l.Contains("loud", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadLogOption_Exit2NamingTheChoices_OnEveryCommand_Issue18()
    {
        await using var kcp = KcpProcess.Start("status", "--config", "nowhere.yaml", "--log-level", "loud");

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Contains(kcp.StdErr, l => l.Contains("loud", StringComparison.Ordinal) && l.Contains("--log-level", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_LogFormatJson_EveryLineIsAJsonObjectWithTheEventsFields_Issue18()
    {
        var topic = _cluster.CreateTopic("json-log", 1);
        var refused = 0;
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.When(r => r.Offset == 1 && Interlocked.Exchange(ref refused, 1) == 0, Fault.Status(503)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("jsonlog", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["retry_interval_ms"] = 100 });
        // kcp.yaml says text at error; the command line wins.
        config.AppendMain("logging:\n  format: text\n  level: error\n");
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 3).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"v{i}"))));

        await using var kcp = KcpProcess.Start("run", "--config", config.ConfigFile, "--log-format", "json", "--log-level", "debug");
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 3 }, Patience);
        await kcp.WaitForOutputAsync("delivery of " + topic + "/0@1 failed", Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));

        Assert.NotEmpty(kcp.Output);
        var events = kcp.Output.Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.True(DateTimeOffset.TryParse(root.GetProperty("Timestamp").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("LogLevel").GetString()), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Category").GetString()), line);
            Assert.Equal(JsonValueKind.String, root.GetProperty("Message").ValueKind);
            return (Id: root.GetProperty("EventId").GetInt32(), Level: root.GetProperty("LogLevel").GetString(), Message: root.GetProperty("Message").GetString()!, State: root.GetProperty("State").Clone());
        }).ToList();

        // Delivery failed (event 5): the route, topic, partition and offset as fields of their own.
        var failed = events.First(e => e.Id == 5);
        Assert.Equal("Warning", failed.Level);
        Assert.Equal(("jsonlog", topic, 0, 1L), (failed.State.GetProperty("Route").GetString(), failed.State.GetProperty("Topic").GetString(),
            int.Parse(failed.State.GetProperty("Partition").ToString(), System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(failed.State.GetProperty("Offset").ToString(), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains(events, e => e.Id == 1 && e.Message.Contains("Route jsonlog started", StringComparison.Ordinal));
        // --log-level debug: the debug lines (commits, event 17) are written too.
        Assert.Contains(events, e => e.Id == 17 && e.Level == "Debug");
    }
}
