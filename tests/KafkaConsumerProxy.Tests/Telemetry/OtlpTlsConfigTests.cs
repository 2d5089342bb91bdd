using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Delivery.Tls;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary><c>telemetry.otlp_ca_file</c>, <c>otlp_client_cert_file</c> and <c>otlp_client_key_file</c> as the loader reads and checks them.</summary>
public sealed class OtlpTlsConfigTests : IDisposable
{
    private readonly TestCertificates _certs = new();
    private readonly ProxyConfigWriter _config = new("127.0.0.1:1");

    public OtlpTlsConfigTests() => _config.AddRoute("a", "orders", "billing", 8080);

    public void Dispose()
    {
        _config.Dispose();
        _certs.Dispose();
    }

    private (KcpConfig? Config, IReadOnlyList<ConfigError> Errors) Load(string telemetryKeys, string endpoint = "https://otel.example.com:4318")
    {
        var text = File.ReadAllText(_config.ConfigFile);
        var at = text.IndexOf("telemetry:\n", StringComparison.Ordinal);
        File.WriteAllText(_config.ConfigFile, (at < 0 ? text : text[..at]) + $"telemetry:\n  otlp_endpoint: {endpoint}\n" + telemetryKeys);
        return ConfigLoader.TryLoad(_config.ConfigFile);
    }

    private (string Ca, string Cert, string Key) WriteFiles()
    {
        var ca = _certs.Ca("OTLP CA");
        var client = _certs.Leaf(ca, "kcp-client", client: true, ["kcp"]);
        return (_certs.Write(ca, "ca.pem"), _certs.Write(client, "client.pem", "client.key"), _certs.PathOf("client.key"));
    }

    private static ConfigError SingleError(IReadOnlyList<ConfigError> errors, string key)
    {
        var error = Assert.Single(errors);
        Assert.Equal(key, error.Key);
        return error;
    }

    [Fact]
    public void AllTlsKeys_ReadResolvedAgainstKcpYamlAndShown_OtlpTls()
    {
        var (ca, cert, key) = WriteFiles();
        var configDir = Path.GetDirectoryName(_config.ConfigFile)!;

        var (config, errors) = Load($"  otlp_ca_file: \"{Path.GetRelativePath(configDir, ca)}\"\n  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{key}\"\n");

        Assert.Empty(errors);
        var telemetry = config!.Telemetry;
        Assert.Equal((ca, cert, key), (telemetry.CaFile, telemetry.ClientCertFile, telemetry.ClientKeyFile));
        Assert.True(telemetry.OwnTls);
        Assert.EndsWith($", CA file {ca}, client certificate {cert} (key {key})", telemetry.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void NoTlsKeys_SystemTrustAsBefore_OtlpTls()
    {
        var (config, errors) = Load("");

        Assert.Empty(errors);
        Assert.False(config!.Telemetry.OwnTls);
        Assert.Null(config.Telemetry.CaFile);
    }

    [Fact]
    public void CaFileMissing_ErrorNamesFileKeyValueAndPath_OtlpTls()
    {
        var missing = _certs.PathOf("no-such-ca.pem");

        var (config, errors) = Load($"  otlp_ca_file: \"{missing}\"\n");

        Assert.Null(config);
        var error = SingleError(errors, "telemetry.otlp_ca_file");
        Assert.Equal((_config.ConfigFile, missing), (error.File, error.Value));
        Assert.Contains("cannot be read as a PEM certificate bundle", error.Message, StringComparison.Ordinal);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"", "must be a non-empty string")]
    [InlineData("\".\"", "cannot be read as a PEM certificate bundle")]
    public void CaFileEmptyOrADirectory_Refused_OtlpTls(string value, string message)
    {
        var (config, errors) = Load($"  otlp_ca_file: {value}\n");

        Assert.Null(config);
        Assert.Contains(message, SingleError(errors, "telemetry.otlp_ca_file").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CaFileNotPem_Refused_OtlpTls()
    {
        var notPem = _certs.PathOf("not-a-ca.pem");
        File.WriteAllText(notPem, "just some text\n");

        var (config, errors) = Load($"  otlp_ca_file: \"{notPem}\"\n");

        Assert.Null(config);
        Assert.Contains("holds no PEM certificate", SingleError(errors, "telemetry.otlp_ca_file").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CaFileIsADevice_RefusedWithoutHanging_OtlpTls()
    {
        var device = _certs.PathOf("ca-device.pem");
        if (OperatingSystem.IsWindows())
            return;
        File.CreateSymbolicLink(device, "/dev/zero");

        var (config, errors) = Load($"  otlp_ca_file: \"{device}\"\n");

        Assert.Null(config);
        Assert.Contains("cannot be read as a PEM certificate bundle", SingleError(errors, "telemetry.otlp_ca_file").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientKeyIsAFifo_RefusedWithoutHanging_OtlpTls()
    {
        if (OperatingSystem.IsWindows())
            return;
        var (_, cert, _) = WriteFiles();
        var fifo = _certs.PathOf("client-key.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            Assert.True(mkfifo.WaitForExit(10_000) && mkfifo.ExitCode == 0, "mkfifo failed");

        var (config, errors) = Load($"  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{fifo}\"\n");

        Assert.Null(config);
        var error = SingleError(errors, "telemetry.otlp_client_cert_file");
        Assert.Contains("the key file", error.Message, StringComparison.Ordinal);
        Assert.Contains(fifo, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://otel.example.com:4318")]
    [InlineData("HTTP://otel.example.com:4318")]
    public void CaFileWithHttpEndpoint_Refused_OtlpTls(string endpoint)
    {
        var (ca, _, _) = WriteFiles();

        var (config, errors) = Load($"  otlp_ca_file: \"{ca}\"\n", endpoint);

        Assert.Null(config);
        var error = SingleError(errors, "telemetry.otlp_ca_file");
        Assert.Equal(ca, error.Value);
        Assert.Contains("applies only with an https:// telemetry.otlp_endpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientCertWithHttpEndpoint_BothKeysRefused_OtlpTls()
    {
        var (_, cert, key) = WriteFiles();

        var (config, errors) = Load($"  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{key}\"\n", "http://otel.example.com:4318");

        Assert.Null(config);
        Assert.Equal(new string?[] { "telemetry.otlp_client_cert_file", "telemetry.otlp_client_key_file" }, errors.Select(e => e.Key).Order().ToArray());
    }

    [Fact]
    public void TlsKeysWithGrpc_RefusedSayingHttpProtobufOnly_OtlpTls()
    {
        var (ca, _, _) = WriteFiles();

        var (config, errors) = Load($"  otlp_protocol: grpc\n  otlp_ca_file: \"{ca}\"\n", "https://otel.example.com:4317");

        Assert.Null(config);
        Assert.Contains("applies only with otlp_protocol: http/protobuf", SingleError(errors, "telemetry.otlp_ca_file").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("otlp_client_cert_file", "telemetry.otlp_client_cert_file", "needs otlp_client_key_file as well")]
    [InlineData("otlp_client_key_file", "telemetry.otlp_client_key_file", "needs otlp_client_cert_file as well")]
    public void CertWithoutKey_OrKeyWithoutCert_Refused_OtlpTls(string given, string key, string message)
    {
        var (_, cert, keyFile) = WriteFiles();

        var (config, errors) = Load($"  {given}: \"{(given == "otlp_client_cert_file" ? cert : keyFile)}\"\n");

        Assert.Null(config);
        Assert.Contains(message, SingleError(errors, key).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyOfAnotherCertificate_Refused_OtlpTls()
    {
        var (ca, cert, _) = WriteFiles();
        var other = _certs.Leaf(_certs.Ca("Other CA"), "other", client: true, ["other"]);
        _certs.Write(other, "other.pem", "other.key");

        var (config, errors) = Load($"  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{_certs.PathOf("other.key")}\"\n  otlp_ca_file: \"{ca}\"\n");

        Assert.Null(config);
        Assert.Contains("cannot be used together", SingleError(errors, "telemetry.otlp_client_cert_file").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TlsKeysWithoutEndpoint_Refused_OtlpTls()
    {
        var (ca, _, _) = WriteFiles();
        File.AppendAllText(_config.ConfigFile, $"telemetry:\n  otlp_ca_file: \"{ca}\"\n");

        var (config, errors) = ConfigLoader.TryLoad(_config.ConfigFile);

        Assert.Null(config);
        Assert.Contains("applies only with telemetry.otlp_endpoint", SingleError(errors, "telemetry.otlp_ca_file").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TlsFilesChanged_NotTheSameSettings_ReportedOnReload_OtlpTls()
    {
        var (ca, cert, key) = WriteFiles();
        var (before, _) = Load($"  otlp_ca_file: \"{ca}\"\n");
        var other = _certs.Write(_certs.Ca("Other CA"), "other-ca.pem");

        var (sameAgain, _) = Load($"  otlp_ca_file: \"{ca}\"\n");
        var (changedCa, _) = Load($"  otlp_ca_file: \"{other}\"\n");
        var (addedClient, _) = Load($"  otlp_ca_file: \"{ca}\"\n  otlp_client_cert_file: \"{cert}\"\n  otlp_client_key_file: \"{key}\"\n");

        Assert.True(sameAgain!.Telemetry.SameAs(before!.Telemetry));
        Assert.False(changedCa!.Telemetry.SameAs(before.Telemetry));
        Assert.Contains($"CA file {other}", changedCa.Telemetry.DescribeChangeFrom(before.Telemetry), StringComparison.Ordinal);
        Assert.False(addedClient!.Telemetry.SameAs(before.Telemetry));
    }
}
