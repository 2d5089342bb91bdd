using System.Net;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Tests.Delivery.Tls;

/// <summary><c>scheme: https</c> against a real Kestrel TLS endpoint with certificates made in the test.</summary>
public sealed class HttpsDeliveryTests : IDisposable
{
    private static readonly KafkaRecord Record = new("orders", 0, 1, 0, null, "v"u8.ToArray(), []);
    private readonly TestCertificates _certs = new();

    public void Dispose() => _certs.Dispose();

    [Fact]
    public async Task CaFile_ServerCertificateSignedByIt_Delivered_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, ["localhost"], [IPAddress.Loopback]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(ca, "ca.pem") }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.IsSuccess, result.Describe());
        Assert.Single(endpoint.Seen);
    }

    [Fact]
    public async Task ServerName_DiffersFromHost_SentAsSniAndVerified_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "orders", client: false, ["orders.test"]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(ca, "ca.pem"), ServerName = "orders.test" }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.IsSuccess, result.Describe());
        Assert.Equal("orders.test", Assert.Single(endpoint.Seen).ServerName);
    }

    [Fact]
    public async Task WrongName_TlsErrorSayingNameMismatch_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "other", client: false, ["other.test"]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(ca, "ca.pem") }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("name mismatch", result.Reason, StringComparison.Ordinal);
        Assert.Contains("'127.0.0.1'", result.Reason, StringComparison.Ordinal);
        Assert.Contains("DNS:other.test", result.Reason, StringComparison.Ordinal);
        Assert.Empty(endpoint.Seen);
    }

    [Fact]
    public async Task UnknownCa_TlsErrorSayingUnknownCa_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        var otherCa = _certs.Ca("Other CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(otherCa, "other-ca.pem") }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("unknown CA", result.Reason, StringComparison.Ordinal);
        Assert.Contains("CN=Test CA", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SystemTrust_TestCaNotInIt_TlsErrorSayingUnknownCa_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("unknown CA", result.Reason, StringComparison.Ordinal);
        Assert.Contains("system trust store", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expired_TlsErrorSayingExpired_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback], notAfter: DateTimeOffset.UtcNow.AddDays(-1)));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(ca, "ca.pem") }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("expired", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InsecureSkipVerify_UnknownCaAndWrongName_Delivered_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "other", client: false, ["other.test"]));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, InsecureSkipVerify = true }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.IsSuccess, result.Describe());
    }

    [Fact]
    public async Task PlainHttpEndpoint_TlsErrorNotAConnectionError_Issue11()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync("{\"errno\":0}"));
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("TLS handshake with '127.0.0.1' failed", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mtls_ClientCertificateGiven_DeliveredAndSeenByServer_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]), clientCa: ca);
        _certs.Write(_certs.Leaf(ca, "kcp-client", client: true, []), "client.pem", "client.key");
        using var http = new HttpDeliverer(Route(endpoint.Port, ClientTls(ca)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.IsSuccess, result.Describe());
        Assert.Equal("CN=kcp-client", Assert.Single(endpoint.Seen).ClientSubject);
    }

    [Fact]
    public async Task Mtls_NoClientCertificate_TlsErrorSayingRequired_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]), clientCa: ca);
        using var http = new HttpDeliverer(Route(endpoint.Port, new TlsSettings { Scheme = EndpointScheme.Https, CaFile = _certs.Write(ca, "ca.pem") }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("client certificate required", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mtls_ClientCertificateOfAnIntermediateCa_ChainFromTheFileSent_Delivered()
    {
        var root = _certs.Ca("Root CA");
        var intermediate = _certs.Intermediate(root, "Issuing CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(root, "server", client: false, [], [IPAddress.Loopback]), clientCa: root);
        _certs.WriteWithChain(_certs.Leaf(intermediate, "kcp", client: true, []), [intermediate], "client.pem", "client.key");
        using var http = new HttpDeliverer(Route(endpoint.Port, ClientTls(root)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.IsSuccess, result.Describe());
        Assert.Equal("CN=kcp", Assert.Single(endpoint.Seen).ClientSubject);

        // The same leaf without its chain in the file: the server, trusting only the root, refuses it.
        _certs.Write(_certs.Leaf(intermediate, "kcp2", client: true, []), "client.pem", "client.key");
        using var leafOnly = new HttpDeliverer(Route(endpoint.Port, ClientTls(root)));
        var refused = await leafOnly.SendAsync(Record, 0, 1);
        Assert.True(refused.Outcome == DeliveryOutcome.TlsError, refused.Describe());
    }

    [Fact]
    public async Task Mtls_ClientCertificateOfAnotherCa_TlsErrorSayingRefused_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        var otherCa = _certs.Ca("Other CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]), clientCa: ca);
        _certs.Write(_certs.Leaf(otherCa, "stranger", client: true, []), "client.pem", "client.key");
        using var http = new HttpDeliverer(Route(endpoint.Port, ClientTls(ca)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.True(result.Outcome == DeliveryOutcome.TlsError, result.Describe());
        Assert.Contains("client certificate refused by the server (CN=stranger", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mtls_ClientCertificateFilesReplaced_NextConnectionUsesTheNewOne_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]), clientCa: ca);
        _certs.Write(_certs.Leaf(ca, "kcp-old", client: true, []), "client.pem", "client.key");
        using var http = new HttpDeliverer(Route(endpoint.Port, ClientTls(ca)));
        var first = await http.SendAsync(Record, 0, 1);

        // Rotation: new files written over the old ones (the endpoint closes every connection, so no pooled one is left).
        _certs.Write(_certs.Leaf(ca, "kcp-new", client: true, []), "client.pem", "client.key");
        var second = await http.SendAsync(Record with { Offset = 2 }, 0, 1);

        Assert.True(first.IsSuccess, first.Describe());
        Assert.True(second.IsSuccess, second.Describe());
        Assert.Equal(["CN=kcp-old", "CN=kcp-new"], endpoint.Seen.Select(s => s.ClientSubject));
    }

    [Fact]
    public async Task Mtls_KeyFileNotMatchingCertificate_TlsErrorNamingTheKey_Issue11()
    {
        var ca = _certs.Ca("Test CA");
        await using var endpoint = await TlsEndpoint.StartAsync(_certs.Leaf(ca, "server", client: false, [], [IPAddress.Loopback]), clientCa: ca);
        _certs.Write(_certs.Leaf(ca, "kcp-a", client: true, []), "client.pem", "other.key");
        _certs.Write(_certs.Leaf(ca, "kcp-b", client: true, []), "b.pem", "client.key");
        using var http = new HttpDeliverer(Route(endpoint.Port, ClientTls(ca)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.TlsError, result.Outcome);
        Assert.Contains("tls_client_cert_file", result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", result.Reason, StringComparison.Ordinal);
        Assert.Empty(endpoint.Seen);
    }

    private TlsSettings ClientTls(System.Security.Cryptography.X509Certificates.X509Certificate2 ca) => new()
    {
        Scheme = EndpointScheme.Https,
        CaFile = _certs.Write(ca, "ca.pem"),
        ClientCertFile = _certs.PathOf("client.pem"),
        ClientKeyFile = _certs.PathOf("client.key"),
    };

    private static RouteDefinition Route(int port, TlsSettings tls)
    {
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = port, ResponseCheck = ResponseCheck.Errno, ConnTimeoutMs = 5_000, ExecTimeoutMs = 5_000 } };
        return route with { Endpoint = route.Endpoint with { Tls = tls } };
    }
}
