using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>Every validation error carries the line and column the YAML gives; a mistyped value gets a suggestion.</summary>
public sealed class ErrorPositionTests : IDisposable
{
    private const string Main = "clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:9092\"\n";
    private readonly ConfigDirectory _dir = new("kcp-positions-");

    [Fact]
    public void RouteErrors_ValueKeyAndNestedProperty_EachWithItsLineAndColumn_Issue19()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", """
            topic: orders
            group: billing
            endpoint: http://10.0.0.5:8080/consume
            retry_nums:   -1
            retry_intervl: 5
            consumer_conf:
              fetch.wait.max.ms: "soon"
            """);

        var errors = _dir.Errors();

        Assert.Equal(
            [
                ("retry_nums", 4, 15),
                ("consumer_conf.fetch.wait.max.ms", 7, 22),
                ("retry_intervl", 5, 1),
            ],
            errors.Select(e => (e.Key, e.Line, e.Column)));
        Assert.StartsWith("routes/r.yaml:4:15: key 'retry_nums' = '-1': must be", RelativeToDir(errors[0]), StringComparison.Ordinal);
    }

    [Fact]
    public void MainFileErrors_NestedKeys_WithLineAndColumn_Issue19()
    {
        _dir.WriteMain("clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:99999\"\nadmin:\n  listen: nowhere\n");
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\n");

        var errors = _dir.Errors();

        Assert.Contains(errors, e => e is { Key: "clusters.default.bootstrap_servers", Line: 3, Column: 24 });
        Assert.Contains(errors, e => e is { Key: "admin.listen", Line: 5, Column: 11 });
    }

    [Fact]
    public void MissingRequiredKey_NoPositionToGive_ShownWithoutOne_Issue19()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "group: g\nendpoint: http://h/x\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal((0, "key 'topic': required key is missing; must be a non-empty string"), (error.Line, ConfigDirectory.Describe(error)));
    }

    [Theory]
    [InlineData("format: jsn", "key 'format' = 'jsn': must be one of: form, json, raw, cloudevents; did you mean 'json'?")]
    [InlineData("response_check: stauts", "key 'response_check' = 'stauts': must be one of: errno, status, expression; did you mean 'status'?")]
    [InlineData("retry_backoff: expo", "key 'retry_backoff' = 'expo': must be one of: constant, exponential")]
    public void ChoiceValue_Mistyped_SuggestsTheClosestChoice_Issue19(string line, string expected)
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", $"topic: t\ngroup: g\nendpoint: http://h/x\n{line}\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal((4, expected), (error.Line, ConfigDirectory.Describe(error)));
    }

    private string RelativeToDir(ConfigError error) =>
        error.ToString().Replace(_dir.Path + "/", "", StringComparison.Ordinal);

    public void Dispose() => _dir.Dispose();
}
