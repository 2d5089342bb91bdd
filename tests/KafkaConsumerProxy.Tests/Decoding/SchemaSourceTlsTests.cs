using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Decoding;
using KafkaConsumerProxy.Tests.Delivery.Tls;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>
/// A registry reached over HTTPS (issue 21): the stand-in served by Kestrel with certificates made by the test, and
/// kcp's registry client with the <c>schema_registry.tls_*</c> keys: a private CA, mutual TLS, a server name, and no
/// verification at all. A registry kcp cannot trust is <see cref="DecodeFailure.RegistryUnavailable"/>: the message waits.
/// </summary>
public sealed class SchemaSourceTlsTests : IClassFixture<TestCluster>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TestCluster _cluster;
    private readonly TestCertificates _certs = new();
    private readonly X509Certificate2 _ca;
    private readonly string _caFile;

    public SchemaSourceTlsTests(TestCluster cluster)
    {
        _cluster = cluster;
        _ca = _certs.Ca("Registry CA");
        _caFile = _certs.Write(_ca, "ca.pem");
    }

    public void Dispose() => _certs.Dispose();

    [Fact]
    public async Task PrivateCa_TlsCaFile_SchemaAndItsReferenceDecoded_Issue21()
    {
        await using var registry = await StartAsync(ServerCertificate(), clientCa: null);
        var id = AddOrderWithReference(registry);

        var decoded = await Decoder(registry, new TlsSettings { CaFile = _caFile }).DecodeAsync(OrderRecord(id), RecordFormat.Avro);

        Assert.Equal(DecodeFailure.None, decoded.Failure);
        Assert.Equal("""{"id":7,"item":{"name":"book"}}""", System.Text.Encoding.UTF8.GetString(decoded.Json!));
        Assert.Contains($"GET /schemas/ids/{id}", registry.Requests);
        Assert.Contains("GET /subjects/shop.Item/versions/1?deleted=true", registry.Requests);
    }

    [Fact]
    public async Task SystemTrustStore_PrivateCa_RegistryUnavailableNamingTheUnknownCa_NothingAsked_Issue21()
    {
        await using var registry = await StartAsync(ServerCertificate(), clientCa: null);
        var id = registry.Add("JSON", "{}", "t-value");

        var decoded = await Decoder(registry, new TlsSettings()).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, decoded.Failure);
        Assert.Contains($"the schema registry could not be asked for schema id {id}: server certificate refused: unknown CA", decoded.Reason, StringComparison.Ordinal);
        Assert.Contains("the system trust store", decoded.Reason, StringComparison.Ordinal);
        Assert.Empty(registry.Requests);
    }

    [Fact]
    public async Task WrongCaFile_RegistryUnavailableNamingTheKey_Issue21()
    {
        await using var registry = await StartAsync(ServerCertificate(), clientCa: null);
        var id = registry.Add("JSON", "{}", "t-value");
        var otherCa = _certs.Write(_certs.Ca("Another CA"), "other-ca.pem");

        var decoded = await Decoder(registry, new TlsSettings { CaFile = otherCa }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, decoded.Failure);
        Assert.Contains($"unknown CA: the server's certificate (issued by CN=Registry CA) does not chain to a CA of schema_registry.tls_ca_file ({otherCa})", decoded.Reason, StringComparison.Ordinal);
        Assert.Empty(registry.Requests);
    }

    [Fact]
    public async Task MutualTls_ClientCertificateWithItsChain_Decoded_WithoutIt_RegistryUnavailable_Issue21()
    {
        var clientRoot = _certs.Ca("Client Root");
        var intermediate = _certs.Intermediate(clientRoot, "Client Intermediate");
        var clientCert = _certs.WriteWithChain(_certs.Leaf(intermediate, "kcp", client: true, ["kcp"]), [intermediate], "client.pem", "client.key");
        await using var registry = await StartAsync(ServerCertificate(), clientRoot);
        var id = registry.Add("JSON", "{}", "t-value");

        var without = await Decoder(registry, new TlsSettings { CaFile = _caFile }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);
        var with = await Decoder(registry, new TlsSettings { CaFile = _caFile, ClientCertFile = clientCert, ClientKeyFile = _certs.PathOf("client.key") }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, without.Failure);
        Assert.Contains("client certificate required: the server asked for one and schema_registry.tls_client_cert_file is not set", without.Reason, StringComparison.Ordinal);
        Assert.Equal(DecodeFailure.None, with.Failure);
        Assert.Equal("{}", System.Text.Encoding.UTF8.GetString(with.Json!));
        Assert.Equal([$"GET /schemas/ids/{id}"], registry.Requests);
    }

    [Fact]
    public async Task TlsServerName_CertificateForAnotherName_MismatchUntilTheNameIsSet_Issue21()
    {
        await using var registry = await StartAsync(_certs.Leaf(_ca, "registry", client: false, ["registry.internal"]), clientCa: null);
        var id = registry.Add("JSON", "{}", "t-value");

        var byHost = await Decoder(registry, new TlsSettings { CaFile = _caFile }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);
        var byName = await Decoder(registry, new TlsSettings { CaFile = _caFile, ServerName = "registry.internal" }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, byHost.Failure);
        Assert.Contains("name mismatch: the server's certificate is not valid for '127.0.0.1' (it is for DNS:registry.internal); set schema_registry.tls_server_name to a name it carries", byHost.Reason, StringComparison.Ordinal);
        Assert.Equal(DecodeFailure.None, byName.Failure);
        // No SNI for an IP address (RFC 6066), then the configured name.
        Assert.Equal(["", "registry.internal"], registry.ServerNames);
    }

    [Fact]
    public async Task InsecureSkipVerify_UntrustedCertificate_Decoded_Issue21()
    {
        await using var registry = await StartAsync(_certs.Leaf(_certs.Ca("Unknown CA"), "registry", client: false, ["elsewhere"]), clientCa: null);
        var id = registry.Add("JSON", "{}", "t-value");

        var decoded = await Decoder(registry, new TlsSettings { InsecureSkipVerify = true }).DecodeAsync(JsonRecord(id), RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.None, decoded.Failure);
        Assert.Equal([$"GET /schemas/ids/{id}"], registry.Requests);
    }

    /// <summary>
    /// Through kcp: a route whose registry's CA file holds the wrong CA keeps its message waiting (not sent, not
    /// skipped, though any counted failure would skip it); once the file holds the right CA the message is delivered.
    /// </summary>
    [Fact]
    public async Task WrongCaFileThenRightOne_MessageWaitsNeverSkipped_DeliveredAfterTheFileIsFixed_Issue21()
    {
        await using var registry = await StartAsync(ServerCertificate(), clientCa: null);
        var id = registry.Add("JSON", "{}", "tls-value");
        var topic = _cluster.CreateTopic("registry-tls", 1);
        await _cluster.ProduceAsync(topic, [(0, (byte[]?)null, (byte[]?)JsonRecord(id, """{"n":1}"""))]);
        var caFile = _certs.Write(_certs.Ca("A Wrong CA"), "registry-ca.pem");
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddSchemaRegistry("default", new Dictionary<string, string> { ["url"] = $"\"{Url(registry)}\"", ["tls_ca_file"] = $"\"{caFile}\"" });
        config.AddRoute("tls", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object>
        {
            ["value_format"] = "json_schema", ["format"] = "json", ["can_skip"] = true, ["retry_nums"] = 0, ["retry_interval_ms"] = 50,
        });
        await using var proxy = InProcessProxy.Start(config.ConfigFile);

        await proxy.WaitForLogsAsync(lines => lines.Any(l => l.Contains("registry_unavailable", StringComparison.Ordinal) && l.Contains("unknown CA", StringComparison.Ordinal)), "the registry's certificate refused", Patience);
        Assert.Empty(receiver.Requests);
        Assert.Empty(registry.Requests);
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "a message was skipped while the registry was not trusted");
        File.WriteAllText(caFile, _ca.ExportCertificatePem());

        await receiver.WaitForCountAsync(1, Patience);
        Assert.Equal("""{"n":1}""", System.Text.Json.JsonDocument.Parse(receiver.Requests.Single().Body).RootElement.GetProperty("value").GetRawText());
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0, "a message was skipped for the registry's certificate");
    }

    [Fact]
    public async Task InsecureSkipVerify_ThroughKcp_DeliveredAndWarnedAtTheRouteStart_Issue21()
    {
        await using var registry = await StartAsync(_certs.Leaf(_certs.Ca("Unknown CA"), "registry", client: false, ["elsewhere"]), clientCa: null);
        var id = registry.Add("JSON", "{}", "insecure-value");
        var topic = _cluster.CreateTopic("registry-insecure", 1);
        await _cluster.ProduceAsync(topic, [(0, (byte[]?)null, (byte[]?)JsonRecord(id, """{"n":2}"""))]);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddSchemaRegistry("default", new Dictionary<string, string> { ["url"] = $"\"{Url(registry)}\"", ["tls_insecure_skip_verify"] = "true" });
        config.AddRoute("insecure", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["value_format"] = "json_schema", ["format"] = "json" });
        await using var proxy = InProcessProxy.Start(config.ConfigFile);

        await receiver.WaitForCountAsync(1, Patience);
        Assert.Contains(proxy.Logs, l => l.Contains("Route insecure: clusters.default.schema_registry.tls_insecure_skip_verify is true: the registry's certificate is not checked", StringComparison.Ordinal));
    }

    private X509Certificate2 ServerCertificate() => _certs.Leaf(_ca, "registry", client: false, ["localhost"], [IPAddress.Loopback]);

    private static async Task<RegistryStandIn> StartAsync(X509Certificate2 server, X509Certificate2? clientCa)
    {
        var names = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var registry = await RegistryStandIn.StartAsync(TlsEndpoint.HttpsOptions(server, clientCa, names.Enqueue));
        registry.ServerNames = names;
        return registry;
    }

    private static string Url(RegistryStandIn registry) => registry.BaseAddress.ToString().TrimEnd('/');

    private static RecordDecoder Decoder(RegistryStandIn registry, TlsSettings tls) =>
        new(SchemaSource.For(new SchemaRegistrySettings { Url = Url(registry), Tls = tls with { Scheme = EndpointScheme.Https } }));

    private static byte[] JsonRecord(int id, string json = "{}") => [0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id, .. System.Text.Encoding.UTF8.GetBytes(json)];

    // shop.Order {id: long, item: shop.Item}, shop.Item registered under its own subject and referenced.
    private static int AddOrderWithReference(RegistryStandIn registry)
    {
        registry.Add("AVRO", """{"type":"record","name":"Item","namespace":"shop","fields":[{"name":"name","type":"string"}]}""", "shop.Item");
        return registry.Add("AVRO", """{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"item","type":"shop.Item"}]}""", "orders-value",
            references: [new JsonObject { ["name"] = "shop.Item", ["subject"] = "shop.Item", ["version"] = 1 }]);
    }

    // Avro binary: id 7 (zigzag varint 14), then the item's name "book" (length 4 as zigzag 8).
    private static byte[] OrderRecord(int id) => [0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id, 14, 8, .. "book"u8];
}
