using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary><c>clusters.&lt;name&gt;.schema_registry</c> and the route keys <c>value_format</c>, <c>key_format</c>: defaults and the exact errors (issue 21).</summary>
public sealed class SchemaRegistryConfigTests : IDisposable
{
    private const string Cluster = "clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:9092\"\n";

    private readonly ConfigDirectory _config = new("kcp-registry-config-");

    public void Dispose() => _config.Dispose();

    [Fact]
    public void NoFormatKeys_BytesAndNoRegistry_Issue21()
    {
        var route = _config.Load(Cluster, ConfigDirectory.RequiredRouteKeys).Routes[0];

        Assert.Equal(RecordFormat.Bytes, route.Decoding.ValueFormat);
        Assert.Equal(RecordFormat.Bytes, route.Decoding.KeyFormat);
        Assert.False(route.Decoding.Enabled);
        Assert.Null(route.Decoding.Registry);
    }

    [Fact]
    public void RegistryWithSecretsFromEnvironmentAndFile_RouteCarriesIt_Issue21()
    {
        Environment.SetEnvironmentVariable("KCP_TEST_REGISTRY_PASSWORD", "s3cret-pw");
        _config.Write("token.txt", "tok-123\n");
        var config = _config.Load(Cluster + "    schema_registry:\n      url: \"http://sr1:8081, http://sr2:8081\"\n      basic_auth: \"kcp:${env:KCP_TEST_REGISTRY_PASSWORD}\"\n",
            ConfigDirectory.RequiredRouteKeys + "value_format: avro\nkey_format: JSON_SCHEMA\nformat: json\n");

        var route = config.Routes[0];
        Assert.Equal(RecordFormat.Avro, route.Decoding.ValueFormat);
        Assert.Equal(RecordFormat.JsonSchema, route.Decoding.KeyFormat);
        Assert.Equal("http://sr1:8081,http://sr2:8081", route.Decoding.Registry!.Url);
        Assert.Equal("kcp:s3cret-pw", route.Decoding.Registry.BasicAuth);
        Assert.Same(config.Clusters["default"].SchemaRegistry, route.Decoding.Registry);

        var bearer = _config.Load(Cluster + "    schema_registry: {url: \"https://sr:8081\", bearer: \"${file:token.txt}\"}\n", ConfigDirectory.RequiredRouteKeys);
        Assert.Equal("tok-123", bearer.Clusters["default"].SchemaRegistry!.Bearer);
    }

    [Fact]
    public void DecodedFormatWithoutRegistry_RefusedNamingTheClusterAndTheWayOut_Issue21()
    {
        _config.WriteMain(Cluster);
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys + "value_format: json_schema\nkey_format: avro\n");

        Assert.Equal(
        [
            "key 'value_format' = 'json_schema': needs a schema registry, but cluster 'default' has no schema_registry in kcp.yaml; set clusters.default.schema_registry.url, or use value_format: bytes to send the bytes as they are",
            "key 'key_format' = 'avro': needs a schema registry, but cluster 'default' has no schema_registry in kcp.yaml; set clusters.default.schema_registry.url, or use key_format: bytes to send the bytes as they are",
        ], _config.Errors().Select(ConfigDirectory.Describe));
    }

    [Fact]
    public void BadFormatAndFormatsThatCannotCarryJson_Refused_Issue21()
    {
        _config.WriteMain(Cluster + "    schema_registry: {url: \"http://sr:8081\"}\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys + "value_format: avor\n");
        Assert.Equal(["key 'value_format' = 'avor': must be one of: bytes, avro, protobuf, json_schema; did you mean 'avro'?"], _config.Errors().Select(ConfigDirectory.Describe));

        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys + "value_format: avro\nformat: cloudevents\n");
        Assert.Contains("key 'value_format' = 'avro': must be bytes with format: cloudevents (a CloudEvent's data is sent as it is); use format json, form or raw to have values decoded", _config.Errors().Select(ConfigDirectory.Describe));

        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys + "value_format: avro\nformat: raw\ncontent_type: application/avro\n");
        Assert.Equal(["key 'content_type' = 'application/avro': applies only with value_format: bytes; a decoded value (avro) is sent as application/json"], _config.Errors().Select(ConfigDirectory.Describe));
    }

    [Fact]
    public void BadRegistrySection_EveryErrorWithFileKeyAndValue_SecretsNotShown_Issue21()
    {
        _config.WriteMain(Cluster + "    schema_registry:\n      url: \"ftp://sr:8081\"\n      basic_auth: \"no-colon-secret\"\n      bearer: \"tok en\"\n      timeout: 5\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys);

        var errors = _config.Errors();

        Assert.Equal(
        [
            "key 'clusters.default.schema_registry.timeout': unknown key",
            "key 'clusters.default.schema_registry.url' = 'ftp://sr:8081': must be an absolute http:// or https:// URL of a Schema Registry, e.g. http://schema-registry:8081, or several separated by ','",
            "key 'clusters.default.schema_registry.bearer': must not be set together with basic_auth: the registry is called with one Authorization header",
            "key 'clusters.default.schema_registry.basic_auth': must be user:password (a user of at least one character, then ':' and the password), e.g. \"kcp:${env:REGISTRY_PASSWORD}\"; the value is not shown",
            "key 'clusters.default.schema_registry.bearer': must be a token of printable ASCII without spaces; the value is not shown",
        ], errors.Select(ConfigDirectory.Describe));
        Assert.All(errors, e => Assert.EndsWith("kcp.yaml", e.File, StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.ToString().Contains("no-colon-secret", StringComparison.Ordinal));
    }

    [Fact]
    public void TlsKeys_UnknownForTheRegistry_Issue21()
    {
        _config.WriteMain(Cluster + "    schema_registry: {url: \"https://sr:8081\", tls_ca_file: ca.pem}\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys);

        Assert.Equal(["key 'clusters.default.schema_registry.tls_ca_file': unknown key"], _config.Errors().Select(ConfigDirectory.Describe));
    }
}
