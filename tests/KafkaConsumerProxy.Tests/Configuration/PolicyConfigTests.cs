using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>The delivery-policy keys of route files and kcp.yaml's <c>limits</c>: defaults, values, and exact messages.</summary>
public sealed class PolicyConfigTests : IDisposable
{
    private const string MainYaml = """
        clusters:
          default:
            bootstrap_servers: "10.0.0.1:9092"
          other:
            bootstrap_servers: "10.0.0.9:9092"
        limits:
          billing-api:
            max_requests_per_second: 200
            max_concurrency: 16
          slow:
            max_concurrency: 2
        """;

    private const string RequiredKeys = ConfigDirectory.RequiredRouteKeys;
    private readonly ConfigDirectory _config = new("kcp-policy-config-");

    public void Dispose() => _config.Dispose();

    [Fact]
    public void Load_NoPolicyKeys_DefaultsKeepTodaysBehaviour_Issue10()
    {
        var route = Assert.Single(Load(RequiredKeys).Routes);

        Assert.Equal(RetryBackoff.Constant, route.Retry.Backoff);
        Assert.Equal(60_000, route.Retry.RetryMaxIntervalMs);
        Assert.Empty(route.Retry.SkipOnStatus);
        Assert.Null(route.Delivery.MaxRequestsPerSecond);
        Assert.False(route.Delivery.AdaptiveConcurrency);
        Assert.Null(route.Delivery.Limit);
        Assert.False(route.DeadLetter.Enabled);
        Assert.Null(route.DeadLetter.Cluster);
        Assert.Equal(8080, route.Endpoint.Port);
    }

    [Fact]
    public void Load_EveryPolicyKeySet_ReadsEveryValue_Issue10()
    {
        var config = Load(RequiredKeys + """
            retry_backoff: exponential
            retry_max_interval_ms: 30000
            skip_on_status: [400, 404, 410, 413, 422]
            async_concurrency: 32
            max_requests_per_second: 50
            adaptive_concurrency: true
            limit: billing-api
            dead_letter_topic: orders.dlq
            dead_letter_cluster: other
            """);
        var route = Assert.Single(config.Routes);

        Assert.Equal(RetryBackoff.Exponential, route.Retry.Backoff);
        Assert.Equal(30_000, route.Retry.RetryMaxIntervalMs);
        Assert.Equal([400, 404, 410, 413, 422], route.Retry.SkipOnStatus.Order());
        Assert.Equal(50, route.Delivery.MaxRequestsPerSecond);
        Assert.True(route.Delivery.AdaptiveConcurrency);
        Assert.Equal("billing-api", route.Delivery.Limit);
        Assert.Equal(new DeadLetterSettings { Topic = "orders.dlq", Cluster = "other" }, route.DeadLetter);
        Assert.Equal(new LimitDefinition("billing-api", 200, 16), config.Limits["billing-api"]);
        Assert.Equal(new LimitDefinition("slow", null, 2), config.Limits["slow"]);
    }

    [Fact]
    public void Load_JsonRoute_SkipOnStatusList_Issue10()
    {
        WriteMain(MainYaml);
        Write("routes/r.json", """
            {"topic": "orders", "group": "billing", "host": "10.0.0.5", "port": 8080, "url": "/x", "concurrency": 1,
             "can_skip": true, "retry_nums": 3, "retry_interval_ms": 100, "conn_timeout_ms": 1000, "exec_timeout_ms": 5000,
             "use_saved_offset_time": 0, "skip_on_status": [404, 422]}
            """);
        var route = Assert.Single(ConfigLoader.Load(Path.Combine(_config.Path, "kcp.yaml")).Routes);

        Assert.Equal([404, 422], route.Retry.SkipOnStatus.Order());
    }

    [Theory]
    [InlineData("retry_backoff: linear", "key 'retry_backoff' = 'linear': must be one of: constant, exponential")]
    [InlineData("retry_max_interval_ms: 50", "key 'retry_max_interval_ms' = '50': must not be less than retry_interval_ms (100)")]
    [InlineData("retry_max_interval_ms: 0", "key 'retry_max_interval_ms' = '0': must be an integer from 1 to 86400000")]
    [InlineData("skip_on_status: 404", "key 'skip_on_status' = '404': must be a list of integers from 100 to 599, e.g. [400, 404], got a scalar")]
    [InlineData("skip_on_status: [404, 600]", "key 'skip_on_status' = '600': must be a list of integers from 100 to 599, e.g. [400, 404]; this entry is not")]
    [InlineData("skip_on_status: [404, [1]]", "key 'skip_on_status': must be a list of integers from 100 to 599, e.g. [400, 404]; this entry is not")]
    [InlineData("max_requests_per_second: 0", "key 'max_requests_per_second' = '0': must be an integer from 1 to 1000000")]
    [InlineData("adaptive_concurrency: true", "key 'adaptive_concurrency' = 'true': applies only with async_concurrency > 0, which is its upper bound")]
    [InlineData("limit: nope", "key 'limit' = 'nope': unknown shared budget; budgets defined in kcp.yaml's limits: billing-api, slow")]
    [InlineData("dead_letter_topic: orders", "key 'dead_letter_topic' = 'orders': must not be the route's own topic on its own cluster: skipped messages would be consumed again")]
    [InlineData("dead_letter_topic: \"bad topic\"", "key 'dead_letter_topic' = 'bad topic': must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'")]
    [InlineData("dead_letter_cluster: other", "key 'dead_letter_cluster' = 'other': applies only with dead_letter_topic")]
    [InlineData("dead_letter_topic: d\ndead_letter_cluster: gone", "key 'dead_letter_cluster' = 'gone': unknown cluster; defined clusters: default, other")]
    public void TryLoad_BadPolicyKey_ReportsKeyValueAndRule_Issue10(string yaml, string expected)
    {
        WriteMain(MainYaml);
        Write("routes/r.yaml", RequiredKeys + yaml + "\n");

        Assert.Equal(expected, Describe(Assert.Single(Errors())));
    }

    [Fact]
    public void TryLoad_RetryIntervalOverDefaultMax_AsksForRetryMaxInterval_Issue10()
    {
        WriteMain(MainYaml);
        Write("routes/r.yaml", RequiredKeys.Replace("retry_interval_ms: 100", "retry_interval_ms: 120000", StringComparison.Ordinal));

        Assert.Equal("key 'retry_interval_ms' = '120000': is over the default retry_max_interval_ms (60000); set retry_max_interval_ms to at least retry_interval_ms", Describe(Assert.Single(Errors())));
    }

    [Theory]
    [InlineData("limits:\n  a: 5\n", "key 'limits.a': must be a mapping with max_requests_per_second and/or max_concurrency, got a scalar")]
    [InlineData("limits:\n  a: {}\n", "key 'limits.a': must set max_requests_per_second, max_concurrency or both")]
    [InlineData("limits:\n  a: {max_concurrency: 0}\n", "key 'limits.a.max_concurrency' = '0': must be an integer from 1 to 100000")]
    [InlineData("limits:\n  a: {max_rps: 3, max_concurrency: 1}\n", "key 'limits.a.max_rps': unknown key")]
    public void TryLoad_BadLimits_Reported_Issue10(string limits, string expected)
    {
        WriteMain("clusters:\n  default:\n    bootstrap_servers: \"h:9092\"\n" + limits);
        Write("routes/r.yaml", RequiredKeys);

        Assert.Equal(expected, Describe(Assert.Single(Errors())));
    }

    private KcpConfig Load(string route) => _config.Load(MainYaml, route);

    private static string Describe(ConfigError error) => ConfigDirectory.Describe(error);

    private IReadOnlyList<ConfigError> Errors() => _config.Errors();

    private void WriteMain(string content) => _config.WriteMain(content);

    private void Write(string relativePath, string content) => _config.Write(relativePath, content);
}
