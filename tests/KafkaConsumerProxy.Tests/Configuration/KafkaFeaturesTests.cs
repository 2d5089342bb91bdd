using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// Kafka over TLS and SASL: the librdkafka kcp loads has the features, and consumer_conf values that need a missing
/// feature or name a missing file are refused at validation. The embedded (mock) cluster speaks neither TLS nor SASL,
/// so no test here connects over them.
/// </summary>
public sealed class KafkaFeaturesTests
{
    [Fact]
    public void LoadedLibrdkafka_HasSslAndSaslFeatures_Issue11()
    {
        var features = KafkaFeatures.Builtin;

        Assert.NotNull(features);
        Assert.Superset(new HashSet<string> { "ssl", "sasl_plain", "sasl_scram", "sasl_oauthbearer" }, new HashSet<string>(features));
    }

    [Theory]
    [InlineData("security.protocol", "sasl_ssl", "ssl")]
    [InlineData("sasl.mechanism", "SCRAM-SHA-512", "sasl_scram")]
    [InlineData("sasl.mechanisms", "PLAIN", "sasl_plain")]
    [InlineData("sasl.mechanism", "OAUTHBEARER", "sasl_oauthbearer")]
    [InlineData("security.protocol", "plaintext", null)]
    public void Needed_NamesTheFeatureOfAValue_Issue11(string property, string value, string? feature) =>
        Assert.Equal(feature, KafkaFeatures.Needed(property, value));

    [Fact]
    public void SslFileMissing_RefusedAtValidationNamingTheKey_Issue11()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var route = config.AddRoute("r", "orders", "billing", 8080);
        File.AppendAllText(route, "consumer_conf:\n  security.protocol: SASL_SSL\n  sasl.mechanism: SCRAM-SHA-512\n  sasl.username: kcp\n  sasl.password: pw-never-shown\n  ssl.ca.location: /nonexistent/ca.pem\n");

        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);

        Assert.Null(loaded);
        var error = Assert.Single(errors);
        Assert.Equal((route, "consumer_conf.ssl.ca.location", "/nonexistent/ca.pem"), (error.File, error.Key, error.Value));
        Assert.Equal("rejected by librdkafka: ssl.ca.location: the file /nonexistent/ca.pem does not exist or cannot be seen by kcp", error.Message);
        Assert.DoesNotContain("pw-never-shown", error.ToString(), StringComparison.Ordinal);
    }
}
