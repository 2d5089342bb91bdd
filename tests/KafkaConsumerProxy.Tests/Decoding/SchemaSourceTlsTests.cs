using System.Net;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Decoding;
using KafkaConsumerProxy.Tests.Delivery.Tls;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Decoding;

/// <summary>A registry reached over HTTPS whose certificate the system does not trust (issue 21).</summary>
public sealed class SchemaSourceTlsTests : IDisposable
{
    private readonly TestCertificates _certs = new();

    public void Dispose() => _certs.Dispose();

    [Fact]
    public async Task HttpsRegistry_UntrustedCertificate_RegistryUnavailableNotAMessageFailure_Issue21()
    {
        var ca = _certs.Ca("Registry CA");
        await using var registry = await RegistryStandIn.StartAsync(TlsEndpoint.HttpsOptions(_certs.Leaf(ca, "registry", client: false, ["localhost"], [IPAddress.Loopback]), clientCa: null));
        var id = registry.Add("JSON", "{}", "t-value");
        var settings = new SchemaRegistrySettings { Url = registry.BaseAddress.ToString().TrimEnd('/') };

        var decoded = await new RecordDecoder(SchemaSource.For(settings)).DecodeAsync([0, 0, 0, (byte)(id >> 8), (byte)id, .. "{}"u8], RecordFormat.JsonSchema);

        Assert.Equal(DecodeFailure.RegistryUnavailable, decoded.Failure);
        Assert.Contains("The SSL connection could not be established", decoded.Reason, StringComparison.Ordinal);
        Assert.Empty(registry.Requests);
    }
}
