using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Delivery.Tls;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>The route keys of a secure endpoint: <c>scheme</c>, <c>tls_*</c>; defaults and the exact errors.</summary>
public sealed class SecurityConfigTests : IDisposable
{
    private const string RouteKeys = """
        topic: orders
        group: billing
        host: 10.0.0.5
        port: 8443
        url: /orders
        concurrency: 1
        can_skip: false
        retry_nums: 0
        retry_interval_ms: 10
        conn_timeout_ms: 1000
        exec_timeout_ms: 1000
        use_saved_offset_time: 0

        """;

    private readonly TestCertificates _certs = new();

    public SecurityConfigTests()
    {
        Directory.CreateDirectory(Path.Combine(_certs.Directory, "routes"));
        File.WriteAllText(Path.Combine(_certs.Directory, "kcp.yaml"), "clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:9092\"\n");
    }

    private string RouteFile => Path.Combine(_certs.Directory, "routes", "r.yaml");

    public void Dispose() => _certs.Dispose();

    [Fact]
    public void NoSchemeKey_PlainHttpWithoutTls_Issue11()
    {
        var tls = Load("").Endpoint.Tls;

        Assert.Equal(new TlsSettings(), tls);
        Assert.False(tls.Enabled);
        Assert.False(tls.InsecureSkipVerify);
    }

    [Fact]
    public void Https_FilesRelativeToTheRouteFile_ResolvedAndRead_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        _certs.Write(ca, "ca.pem");
        _certs.Write(_certs.Leaf(ca, "kcp", client: true, []), "client.pem", "client.key");

        var tls = Load("scheme: https\ntls_ca_file: ../ca.pem\ntls_server_name: orders.test\ntls_client_cert_file: ../client.pem\ntls_client_key_file: ../client.key\n").Endpoint.Tls;

        Assert.Equal(new TlsSettings
        {
            Scheme = EndpointScheme.Https,
            CaFile = _certs.PathOf("ca.pem"),
            ServerName = "orders.test",
            ClientCertFile = _certs.PathOf("client.pem"),
            ClientKeyFile = _certs.PathOf("client.key"),
        }, tls);
    }

    [Fact]
    public void TlsKeysWithoutHttps_EachReported_Issue11()
    {
        var errors = Errors("tls_server_name: orders.test\ntls_insecure_skip_verify: true\n");

        Assert.Equal(
        [
            new ConfigError(RouteFile, "tls_server_name", "orders.test", "applies only with scheme: https"),
            new ConfigError(RouteFile, "tls_insecure_skip_verify", "true", "applies only with scheme: https"),
        ], errors);
    }

    [Fact]
    public void Https_BadFilesAndCombinations_EachReportedWithoutFileContents_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        File.WriteAllText(_certs.PathOf("not-pem.txt"), "hello");
        _certs.Write(_certs.Leaf(ca, "a", client: true, []), "a.pem", "a.key");
        _certs.Write(_certs.Leaf(ca, "b", client: true, []), "b.pem", "b.key");

        var errors = Errors($"scheme: https\ntls_ca_file: {_certs.PathOf("missing.pem")}\ntls_server_name: 'bad name/x'\ntls_client_cert_file: {_certs.PathOf("a.pem")}\ntls_client_key_file: {_certs.PathOf("b.key")}\n");

        Assert.Equal(["tls_server_name", "tls_ca_file", "tls_client_cert_file"], errors.Select(e => e.Key));
        Assert.Contains("must be a host name or IP address", errors[0].Message, StringComparison.Ordinal);
        Assert.Equal($"cannot be read as a PEM certificate bundle: cannot read file: No such file or directory ({_certs.PathOf("missing.pem")})", errors[1].Message);
        Assert.StartsWith("the certificate and key files cannot be used together", errors[2].Message, StringComparison.Ordinal);
        Assert.All(errors, e => Assert.DoesNotContain("PRIVATE KEY", e.ToString(), StringComparison.Ordinal));

        Assert.Equal("holds no PEM certificate (-----BEGIN CERTIFICATE-----)", Assert.Single(Errors($"scheme: https\ntls_ca_file: {_certs.PathOf("not-pem.txt")}\n")).Message.Split(" (/")[0]);
        Assert.Equal(new ConfigError(RouteFile, "tls_client_cert_file", _certs.PathOf("a.pem"), "needs tls_client_key_file as well: a client certificate is used with its private key"),
            Assert.Single(Errors($"scheme: https\ntls_client_cert_file: {_certs.PathOf("a.pem")}\n")));
        Assert.Equal(new ConfigError(RouteFile, "tls_insecure_skip_verify", "true", "turns certificate checks off, so tls_ca_file would have no effect; remove one of them"),
            Assert.Single(Errors($"scheme: https\ntls_insecure_skip_verify: true\ntls_ca_file: {_certs.Write(ca, "ca.pem")}\n")));
        Assert.Equal(new ConfigError(RouteFile, "scheme", "ftp", "must be one of: http, https; did you mean 'http'?"), Assert.Single(Errors("scheme: ftp\n")));
    }

    [Fact]
    public void Auth_EachTypeWithItsKeys_Loaded_Issue11()
    {
        Assert.Equal(new AuthSettings { Type = AuthType.Bearer, Token = "abc" }, Load("auth:\n  type: bearer\n  token: abc\n").Endpoint.Auth);
        Assert.Equal(new AuthSettings { Type = AuthType.Hmac, Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, Load("auth: {type: hmac, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n").Endpoint.Auth);
        var oauth = Load("auth: {type: oauth2_client_credentials, token_url: 'https://idp.test/token', client_id: kcp, client_secret: s, audience: orders}\n").Endpoint.Auth!;
        Assert.Equal((AuthType.OAuth2ClientCredentials, "https://idp.test/token", "kcp", "s", null, "orders"), (oauth.Type, oauth.TokenUrl!.ToString(), oauth.ClientId, oauth.ClientSecret, oauth.Scope, oauth.Audience));
        Assert.Equal([new KeyValuePair<string, string>("X-Tenant", "acme")], Load("headers: {X-Tenant: acme}\n").Endpoint.Headers);
    }

    [Fact]
    public void Auth_MissingWrongAndMisplacedKeys_NamedWithSecretsMasked_Issue11()
    {
        Assert.Equal(
        [
            new ConfigError(RouteFile, "auth.token", null, "required key is missing for auth.type: bearer"),
            new ConfigError(RouteFile, "auth.password", "***", "applies only with auth.type: basic"),
        ], Errors("auth: {type: bearer, password: hunter2}\n"));
        Assert.Equal(new ConfigError(RouteFile, "auth.type", "jwt", "must be one of: bearer, basic, oauth2_client_credentials, hmac"), Assert.Single(Errors("auth: {type: jwt}\n")));
        Assert.Equal(new ConfigError(RouteFile, "auth.secret", "***", "starts with whsec_ but what follows is not base64 (Standard Webhooks' whsec_<base64 key>)"), Assert.Single(Errors("auth: {type: hmac, secret: 'whsec_!!'}\n")));
        Assert.Equal(new ConfigError(RouteFile, "auth.token_url", "***", "must be an absolute http:// or https:// URL without user information or fragment"),
            Assert.Single(Errors("auth: {type: oauth2_client_credentials, token_url: 'ftp://x/token', client_id: a, client_secret: b}\n")));
        Assert.Equal(new ConfigError(RouteFile, "auth.username", "a:b", "must not contain ':', which separates it from the password in basic authentication"), Assert.Single(Errors("auth: {type: basic, username: 'a:b', password: p}\n")));
    }

    [Theory]
    [InlineData("X-Kafka-Offset: '1'", "headers.X-Kafka-Offset", null, "is set by kcp (or by the HTTP client) and cannot be replaced; X-Kafka-*, Idempotency-Key, traceparent, tracestate, Host, Content-Type and the connection headers are reserved")]
    [InlineData("idempotency-key: x", "headers.idempotency-key", null, "is set by kcp (or by the HTTP client) and cannot be replaced; X-Kafka-*, Idempotency-Key, traceparent, tracestate, Host, Content-Type and the connection headers are reserved")]
    [InlineData("'Bad Name': x", "headers.Bad Name", null, "must be a header name: letters, digits and !#$%&'*+-.^_`|~")]
    [InlineData("X-Note: \"a\\r\\nX-Evil: 1\"", "headers.X-Note", "a\r\nX-Evil: 1", "must be printable ASCII: no line breaks, control or non-ASCII characters in a header value")]
    [InlineData("X-Api-Key: \"a\\nb\"", "headers.X-Api-Key", "***", "must be printable ASCII: no line breaks, control or non-ASCII characters in a header value")]
    public void Headers_InvalidOrReserved_Refused_Issue11(string entry, string key, string? value, string message)
    {
        Assert.Equal(new ConfigError(RouteFile, key, value, message), Assert.Single(Errors($"headers:\n  {entry}\n")));
    }

    [Fact]
    public async Task TlsFilesThatAreFifos_RefusedWithoutBlocking()
    {
        var ca = _certs.Ca("Test CA");
        _certs.Write(_certs.Leaf(ca, "kcp", client: true, []), "client.pem", "client.key");
        ConfigLoaderTests.MakeFifo(_certs.PathOf("ca.fifo"));
        ConfigLoaderTests.MakeFifo(_certs.PathOf("key.fifo"));

        var errors = await Task.Run(() => Errors($"scheme: https\ntls_ca_file: {_certs.PathOf("ca.fifo")}\ntls_client_cert_file: {_certs.PathOf("client.pem")}\ntls_client_key_file: {_certs.PathOf("key.fifo")}\n"))
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["tls_ca_file", "tls_client_cert_file"], errors.Select(e => e.Key));
        Assert.StartsWith("cannot be read as a PEM certificate bundle: is a FIFO (named pipe), not a regular file; a PEM file must be a regular file", errors[0].Message, StringComparison.Ordinal);
        Assert.StartsWith("the key file is a FIFO (named pipe), not a regular file; a PEM file must be a regular file", errors[1].Message, StringComparison.Ordinal);
    }

    private RouteDefinition Load(string extra)
    {
        File.WriteAllText(RouteFile, RouteKeys + extra);
        var (config, errors) = ConfigLoader.TryLoad(Path.Combine(_certs.Directory, "kcp.yaml"));
        Assert.True(config is not null, string.Join("\n", errors));
        return Assert.Single(config.Routes);
    }

    private List<ConfigError> Errors(string extra)
    {
        File.WriteAllText(RouteFile, RouteKeys + extra);
        var (config, errors) = ConfigLoader.TryLoad(Path.Combine(_certs.Directory, "kcp.yaml"));
        Assert.Null(config);
        return errors.ToList();
    }
}
