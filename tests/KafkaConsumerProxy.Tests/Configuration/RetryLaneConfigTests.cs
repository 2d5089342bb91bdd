using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// <c>retry_topic</c> and <c>retry_topic_delays_ms</c> (issue 20, item 5): the lane is taken only by unordered routes
/// (<c>async_concurrency</c> &gt; 0, <c>ordering: none</c>, <c>batch_size</c> 1), and each refusal names the file, the
/// key, the value and why.
/// </summary>
public sealed class RetryLaneConfigTests : IDisposable
{
    private const string Unordered = "async_concurrency: 8\nordering: none\n";
    private readonly ConfigDirectory _config = new("kcp-retry-lane-");

    public void Dispose() => _config.Dispose();

    [Fact]
    public void Validate_UnorderedRoute_TakesTheLaneWithDefaultDelays_Issue20()
    {
        var route = Valid(Unordered + "retry_topic: orders.retry\n");

        Assert.Equal("orders.retry", route.RetryLane.Topic);
        Assert.Equal([1000, 10_000, 60_000], route.RetryLane.DelaysMs);
        Assert.Equal("billing.retry", RetryLaneSettings.GroupOf(route.Group));
        Assert.False(Valid(Unordered).RetryLane.Enabled);
    }

    [Fact]
    public void ValidateRecordNames_LaneRecordNameTooLong_NamesRetryTopic_Issue20()
    {
        var lane = new string('r', 249);
        var route = Valid(Unordered + $"retry_topic: {lane}\n");
        var errors = new List<ConfigError>();

        RouteValidator.ValidateRecordNames([route], errors);

        var error = Assert.Single(errors);
        Assert.Equal((_config.RouteFile, "retry_topic", lane), (error.File, error.Key, error.Value));
        Assert.Contains("the retry lane's partitions: group '{group}.retry', topic retry_topic", error.Message, StringComparison.Ordinal);
        Assert.Equal("async 8 ordering none; format form; max_pending 10000; retry lane " + lane + " after 1000, 10000, 60000 ms", route.DescribeDelivery());
    }

    [Fact]
    public void Validate_DelaysWritten_AreTheRounds_Issue20()
    {
        var route = Valid(Unordered + "retry_topic: orders.retry\nretry_topic_delays_ms: [50, 86400000]\n");

        Assert.Equal([50, 86_400_000], route.RetryLane.DelaysMs);
        Assert.Equal("skips after 6 attempt(s) (can_skip: true, retry_nums: 3, after the retry lane's 2 round(s))", KafkaConsumerProxy.Admin.RouteSettingsView.Of(route).SkipPolicy);
    }

    [Theory]
    [InlineData("retry_topic: orders.retry\n", "key 'retry_topic' = 'orders.retry': needs async_concurrency > 0 and ordering: none; sync delivery (async_concurrency 0) keeps each partition in offset order, which cannot hold: a failing message that leaves its partition for the retry topic is delivered after the messages behind it")]
    [InlineData("async_concurrency: 8\nretry_topic: orders.retry\n", "key 'retry_topic' = 'orders.retry': needs ordering: none; ordering: key (the default) keeps each key's messages in offset order, which cannot hold: a failing message that leaves its partition for the retry topic is delivered after the messages behind it")]
    [InlineData("async_concurrency: 8\nordering: key\nretry_topic: orders.retry\n", "key 'retry_topic' = 'orders.retry': needs ordering: none; ordering: key (the default) keeps each key's messages in offset order, which cannot hold: a failing message that leaves its partition for the retry topic is delivered after the messages behind it")]
    [InlineData(Unordered + "format: json\nbatch_size: 10\nretry_topic: orders.retry\n", "key 'retry_topic' = 'orders.retry': applies only with batch_size 1 (this file has 10): a batch's failing messages are retried together in place")]
    [InlineData(Unordered + "retry_topic: orders\n", "key 'retry_topic' = 'orders': must not be the route's own topic: the retry lane is a topic of its own, consumed by the route's members in the group '<group>.retry'")]
    [InlineData(Unordered + "retry_topic: dlq\ndead_letter_topic: dlq\n", "key 'retry_topic' = 'dlq': must not be the route's dead_letter_topic: messages given up on would be delivered again")]
    [InlineData(Unordered + "retry_topic: 'a b'\n", "key 'retry_topic' = 'a b': must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'")]
    [InlineData(Unordered + "retry_topic_delays_ms: [1000]\n", "key 'retry_topic_delays_ms' = '[1000]': applies only with retry_topic")]
    [InlineData(Unordered + "retry_topic: orders.retry\nretry_topic_delays_ms: []\n", "key 'retry_topic_delays_ms' = '[]': must hold 1 to 10 delays, one per round of the retry lane, e.g. [1000, 10000, 60000]")]
    [InlineData(Unordered + "retry_topic: orders.retry\nretry_topic_delays_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n", "key 'retry_topic_delays_ms' = '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]': must hold 1 to 10 delays, one per round of the retry lane, e.g. [1000, 10000, 60000]")]
    [InlineData(Unordered + "retry_topic: orders.retry\nretry_topic_delays_ms: [1000, 0]\n", "key 'retry_topic_delays_ms' = '0': must be a list of integers from 1 to 86400000, e.g. [400, 404]; this entry is not")]
    public void Validate_LaneWhereItCannotHold_RefusedWithTheFileKeyValueAndWhy_Issue20(string keys, string expected)
    {
        var errors = Errors(keys);

        Assert.Equal([expected], errors.Select(ConfigDirectory.Describe));
        Assert.All(errors, e => Assert.Equal(_config.RouteFile, e.File));
    }

    private RouteDefinition Valid(string keys)
    {
        var binding = Bind(keys);
        var errors = new List<ConfigError>();
        Assert.True(RouteValidator.Validate(binding, clusters: null, limits: null, errors), string.Join("; ", errors.Select(ConfigDirectory.Describe)));
        return binding.ToRoute("r");
    }

    private List<ConfigError> Errors(string keys)
    {
        var errors = new List<ConfigError>();
        Assert.False(RouteValidator.Validate(Bind(keys), clusters: null, limits: null, errors));
        return errors;
    }

    private RouteBinding Bind(string keys)
    {
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys + keys);
        var errors = new List<ConfigError>();
        var root = ConfigTree.Parse(_config.RouteFile, errors);
        Assert.Empty(errors);
        return RouteBinding.Bind(_config.RouteFile, root!);
    }
}
