using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// A route file is bound first (<see cref="RouteBinding"/>), which reports nothing, and checked after
/// (<see cref="RouteValidator"/>), which reports every problem, binding problems included, in the order keys are checked.
/// </summary>
public sealed class RouteValidatorTests : IDisposable
{
    private readonly ConfigDirectory _config = new("kcp-route-validator-");

    public void Dispose() => _config.Dispose();

    [Fact]
    public void Bind_WrongTypesAndRanges_AddsNoErrorAndKeepsEachValuesSource_Issue16()
    {
        var binding = Bind(ConfigDirectory.RequiredRouteKeys.Replace("port: 8080", "port: 0", StringComparison.Ordinal)
            .Replace("concurrency: 2", "concurrency: many", StringComparison.Ordinal) + "auth: { type: bearer, token: abc }\nformat: xml\n");

        var port = binding[EndpointSettings.PortKey];
        Assert.Equal((0, null), (port.Value, port.Problem));
        Assert.Equal(new ValueSource(_config.RouteFile, "port"), port.Source);
        var concurrency = binding[RouteDefinition.ConcurrencyKey];
        Assert.Equal(("many", "must be an integer from 1 to 256"), (concurrency.ProblemText, concurrency.Problem));
        Assert.Equal("xml", binding[DeliverySettings.FormatKey].Value);
        Assert.True(binding[DeliverySettings.BatchSizeKey].IsAbsent);
        Assert.Equal(new ValueSource(_config.RouteFile, "auth.token"), binding.Auth(AuthSettings.KeysOfTypes[0].Key).Source);
    }

    [Fact]
    public void Validate_BindingAndRangeProblems_ListedInTheOrderKeysAreChecked_Issue16()
    {
        var binding = Bind(ConfigDirectory.RequiredRouteKeys.Replace("port: 8080", "port: 0", StringComparison.Ordinal)
            .Replace("concurrency: 2", "concurrency: [2]", StringComparison.Ordinal) + "consumer_conf: [a]\nbatch_sise: 2\nformat: xml\nasync_concurrency: 99999\n");
        var errors = new List<ConfigError>();

        Assert.False(RouteValidator.Validate(binding, clusters: null, limits: null, errors));

        Assert.Equal(
        [
            "key 'port' = '0': must be an integer from 1 to 65535",
            "key 'concurrency': must be an integer from 1 to 256, got a sequence",
            "key 'consumer_conf': must be a mapping of librdkafka property names to string, number or bool values, got a sequence",
            "key 'async_concurrency' = '99999': must be an integer from 0 to 10000",
            "key 'format' = 'xml': must be one of: form, json, raw, cloudevents",
            "key 'batch_sise': unknown key; did you mean 'batch_size'?",
        ], errors.Select(ConfigDirectory.Describe));
    }

    [Fact]
    public void Validate_ValidBinding_NoErrorAndTheRouteHoldsTheBoundValues_Issue16()
    {
        var binding = Bind(ConfigDirectory.RequiredRouteKeys + "format: JSON\nbatch_size: 10\nskip_on_status: [404]\n");
        var errors = new List<ConfigError>();

        Assert.True(RouteValidator.Validate(binding, clusters: null, limits: null, errors));
        var route = binding.ToRoute("r");

        Assert.Empty(errors);
        Assert.Equal((RequestFormat.Json, 10, 8080), (route.Delivery.Format, route.Delivery.BatchSize, route.Endpoint.Port));
        Assert.Equal([404], route.Retry.SkipOnStatus.Order());
        Assert.Equal(RouteDefaults.MaxPending, route.Delivery.MaxPending);
    }

    private RouteBinding Bind(string yaml)
    {
        _config.Write("routes/r.yaml", yaml);
        var errors = new List<ConfigError>();
        var root = ConfigTree.Parse(_config.RouteFile, errors);
        Assert.Empty(errors);
        return RouteBinding.Bind(_config.RouteFile, root!);
    }
}
