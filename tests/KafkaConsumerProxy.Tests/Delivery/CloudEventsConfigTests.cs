using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>The route keys of <c>format: cloudevents</c>: defaults, values, and the exact messages of bad ones.</summary>
public sealed class CloudEventsConfigTests : IDisposable
{
    private const string MainYaml = """
        clusters:
          default:
            bootstrap_servers: "10.0.0.1:9092"
          "eu west":
            bootstrap_servers: "10.0.0.9:9092"
        """;

    private const string RequiredKeys = ConfigDirectory.RequiredRouteKeys;
    private readonly ConfigDirectory _config = new("kcp-cloudevents-config-");

    public void Dispose() => _config.Dispose();

    [Fact]
    public void Load_FormatCloudEvents_DefaultTypeKafkaRecord_Issue11()
    {
        var route = Assert.Single(Load(RequiredKeys + "format: cloudevents\n").Routes);

        Assert.Equal(RequestFormat.CloudEvents, route.Delivery.Format);
        Assert.Equal("kafka.record", route.Delivery.CloudEventsType);
        Assert.Equal(RouteDefaults.CloudEventsType, new DeliverySettings().CloudEventsType);
        Assert.Equal("sync; format cloudevents; max_pending 10000", route.DescribeDelivery());
    }

    [Fact]
    public void Load_TypeAndBatch_Read_Issue11()
    {
        var route = Assert.Single(Load(RequiredKeys + "format: CloudEvents\ncloudevents_type: \"com.example.order.created v2 ✓\"\nbatch_size: 50\n").Routes);

        Assert.Equal(RequestFormat.CloudEvents, route.Delivery.Format);
        Assert.Equal("com.example.order.created v2 ✓", route.Delivery.CloudEventsType);
        Assert.Equal(50, route.Delivery.BatchSize);
    }

    [Theory]
    [InlineData("format: cloudevent", "key 'format' = 'cloudevent': must be one of: form, json, raw, cloudevents; did you mean 'cloudevents'?")]
    [InlineData("cloudevents_type: a.b", "key 'cloudevents_type' = 'a.b': applies only with format: cloudevents")]
    [InlineData("format: json\ncloudevents_type: a.b", "key 'cloudevents_type' = 'a.b': applies only with format: cloudevents")]
    [InlineData("format: cloudevents\ncloudevents_type: \"\"", "key 'cloudevents_type' = '': must be a non-empty string")]
    [InlineData("format: cloudevents\ncloudevents_type: \"  \"", "key 'cloudevents_type' = '  ': must be a non-empty string")]
    [InlineData("format: cloudevents\ncloudevents_type: \"a\\r\\nX-Evil: 1\"", "key 'cloudevents_type' = 'a\\r\\nX-Evil: 1': must not contain control characters (line breaks, tabs and the like): it is sent as the ce-type header, e.g. com.example.order.created")]
    [InlineData("format: cloudevents\ncloudevents_type: \"a\\tb\"", "key 'cloudevents_type' = 'a\\tb': must not contain control characters (line breaks, tabs and the like): it is sent as the ce-type header, e.g. com.example.order.created")]
    [InlineData("format: cloudevents\ncloudevents_type: \" a.b\"", "key 'cloudevents_type' = ' a.b': must not start or end with white space")]
    [InlineData("format: cloudevents\ncloudevents_type: [a]", "key 'cloudevents_type': must be a non-empty string, got a sequence")]
    [InlineData("format: cloudevents\ncluster: \"eu west\"", "key 'cluster' = 'eu west': is the host of the CloudEvents source kafka://eu west/orders with format: cloudevents, so it must be a host name: letters, digits, '-', '.' and '_'")]
    [InlineData("format: cloudevents\nheaders:\n  CE-Type: x", "key 'headers.CE-Type': must not be set with format: cloudevents, whose ce-* headers carry the event's attributes")]
    [InlineData("format: raw\nbatch_size: 10", "key 'batch_size' = '10': must be 1 unless format is json or cloudevents: a batch is sent as a JSON array of envelopes or of CloudEvents")]
    [InlineData("format: cloudevents\ncontent_type: text/plain", "key 'content_type' = 'text/plain': applies only with format: raw; form, json and cloudevents set their own Content-Type")]
    public void TryLoad_BadCloudEventsKey_ReportsKeyValueAndRule_Issue11(string yaml, string expected)
    {
        WriteMain(MainYaml);
        Write("routes/r.yaml", RequiredKeys + yaml + "\n");

        var error = Assert.Single(Errors());

        Assert.Equal(expected, Describe(error));
        Assert.Equal(_config.RouteFile, error.File);
    }

    [Fact]
    public void TryLoad_TypeTooLong_Reported_Issue11()
    {
        WriteMain(MainYaml);
        Write("routes/r.yaml", RequiredKeys + "format: cloudevents\ncloudevents_type: " + new string('t', 1025) + "\n");

        Assert.EndsWith(": must be at most 1024 characters", Describe(Assert.Single(Errors())), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CeHeaderWithOtherFormat_Allowed_Issue11()
    {
        var route = Assert.Single(Load(RequiredKeys + "format: json\nheaders:\n  ce-type: x\n").Routes);

        Assert.Equal("x", Assert.Single(route.Endpoint.Headers).Value);
    }

    private KcpConfig Load(string route) => _config.Load(MainYaml, route);

    private static string Describe(ConfigError error) => ConfigDirectory.Describe(error);

    private IReadOnlyList<ConfigError> Errors() => _config.Errors();

    private void WriteMain(string content) => _config.WriteMain(content);

    private void Write(string relativePath, string content) => _config.Write(relativePath, content);
}
