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
        Assert.Equal($"cannot be read as a PEM certificate bundle: file not found ({_certs.PathOf("missing.pem")})", errors[1].Message);
        Assert.StartsWith("the certificate and key files cannot be used together", errors[2].Message, StringComparison.Ordinal);
        Assert.All(errors, e => Assert.DoesNotContain("PRIVATE KEY", e.ToString(), StringComparison.Ordinal));

        Assert.Equal("holds no PEM certificate (-----BEGIN CERTIFICATE-----)", Assert.Single(Errors($"scheme: https\ntls_ca_file: {_certs.PathOf("not-pem.txt")}\n")).Message.Split(" (/")[0]);
        Assert.Equal(new ConfigError(RouteFile, "tls_client_cert_file", _certs.PathOf("a.pem"), "needs tls_client_key_file as well: a client certificate is used with its private key"),
            Assert.Single(Errors($"scheme: https\ntls_client_cert_file: {_certs.PathOf("a.pem")}\n")));
        Assert.Equal(new ConfigError(RouteFile, "tls_insecure_skip_verify", "true", "turns certificate checks off, so tls_ca_file would have no effect; remove one of them"),
            Assert.Single(Errors($"scheme: https\ntls_insecure_skip_verify: true\ntls_ca_file: {_certs.Write(ca, "ca.pem")}\n")));
        Assert.Equal(new ConfigError(RouteFile, "scheme", "ftp", "must be one of: http, https"), Assert.Single(Errors("scheme: ftp\n")));
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
