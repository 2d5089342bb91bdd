using System.Security.Cryptography.X509Certificates;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Delivery.Tls;
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
    public void TlsKeys_ReadAsARoutesAre_FilesResolvedAgainstKcpYaml_Issue21()
    {
        using var certs = new TestCertificates();
        var ca = certs.Ca("Registry CA");
        _config.Write("ca.pem", ca.ExportCertificatePem());
        var client = certs.Leaf(ca, "kcp", client: true, ["kcp"]);
        _config.Write("client.pem", client.ExportCertificatePem());
        _config.Write("client.key", client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        var registry = _config.Load(Cluster + "    schema_registry:\n      url: \"https://sr:8081\"\n      tls_ca_file: ca.pem\n      tls_server_name: registry.internal\n"
            + "      tls_client_cert_file: client.pem\n      tls_client_key_file: client.key\n", ConfigDirectory.RequiredRouteKeys).Clusters["default"].SchemaRegistry!;

        Assert.Equal(new TlsSettings
        {
            Scheme = EndpointScheme.Https,
            CaFile = Path.Combine(_config.Path, "ca.pem"),
            ServerName = "registry.internal",
            ClientCertFile = Path.Combine(_config.Path, "client.pem"),
            ClientKeyFile = Path.Combine(_config.Path, "client.key"),
        }, registry.Tls);
        var defaults = _config.Load(Cluster + "    schema_registry: {url: \"https://sr:8081\", tls_insecure_skip_verify: true}\n", ConfigDirectory.RequiredRouteKeys).Clusters["default"].SchemaRegistry!;
        Assert.Equal(new TlsSettings { Scheme = EndpointScheme.Https, InsecureSkipVerify = true }, defaults.Tls);
        Assert.Equal(new TlsSettings(), _config.Load(Cluster + "    schema_registry: {url: \"http://sr:8081\"}\n", ConfigDirectory.RequiredRouteKeys).Clusters["default"].SchemaRegistry!.Tls);
    }

    [Fact]
    public void TlsKeys_WithAnHttpUrl_RefusedEachNamed_Issue21()
    {
        _config.WriteMain(Cluster + "    schema_registry: {url: \"http://sr:8081\", tls_ca_file: ca.pem, tls_insecure_skip_verify: false}\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys);

        Assert.Equal(
        [
            "key 'clusters.default.schema_registry.tls_ca_file' = 'ca.pem': applies only with an https:// url (the registry is reached without TLS)",
            "key 'clusters.default.schema_registry.tls_insecure_skip_verify' = 'false': applies only with an https:// url (the registry is reached without TLS)",
        ], _config.Errors().Select(ConfigDirectory.Describe));
    }

    [Fact]
    public void TlsKeys_BadValuesAndFiles_EveryErrorAtOnce_Issue21()
    {
        using var certs = new TestCertificates();
        _config.Write("client.key", certs.Leaf(certs.Ca("CA"), "kcp", client: true, ["kcp"]).GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        _config.Write("not-pem.txt", "hello\n");
        _config.WriteMain(Cluster + "    schema_registry:\n      url: \"https://sr:8081\"\n      tls_ca_file: not-pem.txt\n      tls_server_name: \"sr:8081\"\n"
            + "      tls_client_key_file: client.key\n      tls_insecure_skip_verify: true\n      tls_verify: false\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys);

        var errors = _config.Errors();

        Assert.Equal(
        [
            "key 'clusters.default.schema_registry.tls_verify': unknown key",
            "key 'clusters.default.schema_registry.tls_server_name' = 'sr:8081': must be a host name or IP address (no port, scheme or path): the name the registry's certificate must be valid for",
            "key 'clusters.default.schema_registry.tls_insecure_skip_verify' = 'true': turns certificate checks off, so tls_ca_file would have no effect; remove one of them",
            $"key 'clusters.default.schema_registry.tls_ca_file' = 'not-pem.txt': holds no PEM certificate (-----BEGIN CERTIFICATE-----) ({Path.Combine(_config.Path, "not-pem.txt")})",
            // The value of a key named *key* is masked, as a route's is.
            "key 'clusters.default.schema_registry.tls_client_key_file' = '***': needs tls_client_cert_file as well: a client certificate is used with its private key",
        ], errors.Select(ConfigDirectory.Describe));
        Assert.All(errors, e => Assert.EndsWith("kcp.yaml", e.File, StringComparison.Ordinal));
    }

    [Fact]
    public void TlsCaFile_Missing_RefusedNamingThePath_Issue21()
    {
        _config.WriteMain(Cluster + "    schema_registry: {url: \"http://sr1:8081, https://sr2:8081\", tls_ca_file: missing.pem}\n");
        _config.Write("routes/r.yaml", ConfigDirectory.RequiredRouteKeys);

        var error = Assert.Single(_config.Errors());

        Assert.Equal("clusters.default.schema_registry.tls_ca_file", error.Key);
        Assert.StartsWith("cannot be read as a PEM certificate bundle: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_config.Path, "missing.pem"), error.Message, StringComparison.Ordinal);
    }
}
