using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafkaConsumerProxy.Tests.Delivery.Tls;

/// <summary>Certificates made for a test with <see cref="CertificateRequest"/>: a CA and leaf certificates it signs, written as PEM files.</summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly List<X509Certificate2> _made = [];

    public TestCertificates()
    {
        Directory = Path.Combine(Path.GetTempPath(), "kcp-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    /// <summary>A self-signed CA.</summary>
    public X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return Keep(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(30)));
    }

    /// <summary>An intermediate CA signed by <paramref name="ca"/>, with its key so it can sign leaves.</summary>
    public X509Certificate2 Intermediate(X509Certificate2 ca, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-5), DateTimeOffset.UtcNow.AddDays(20), RandomNumberGenerator.GetBytes(12));
        return Keep(signed.CopyWithPrivateKey(key));
    }

    /// <summary>A server (<paramref name="client"/> false) or client certificate signed by <paramref name="ca"/>, with the given names.</summary>
    public X509Certificate2 Leaf(X509Certificate2 ca, string subject, bool client, string[] dnsNames, IPAddress[]? addresses = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(client ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
            san.AddDnsName(name);
        foreach (var address in addresses ?? [])
            san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        var end = notAfter ?? DateTimeOffset.UtcNow.AddDays(10);
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-2), end, serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        // Re-imported so the private key is a persisted one, as Kestrel's server side wants on every platform.
        return Keep(X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable));
    }

    /// <summary>Writes the certificate (and its key when <paramref name="keyFile"/> is given) as PEM; returns the certificate file path.</summary>
    public string Write(X509Certificate2 certificate, string file, string? keyFile = null)
    {
        var path = Path.Combine(Directory, file);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        if (keyFile is not null)
            File.WriteAllText(Path.Combine(Directory, keyFile), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return path;
    }

    /// <summary>Writes the certificate followed by the CA certificates of its chain, and its key, as PEM; returns the certificate file path.</summary>
    public string WriteWithChain(X509Certificate2 certificate, X509Certificate2[] chain, string file, string keyFile)
    {
        var path = Write(certificate, file, keyFile);
        File.AppendAllText(path, string.Concat(chain.Select(c => "\n" + c.ExportCertificatePem())));
        return path;
    }

    public string PathOf(string file) => Path.Combine(Directory, file);

    public void Dispose()
    {
        foreach (var certificate in _made)
            certificate.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp directory.
        }
    }

    private X509Certificate2 Keep(X509Certificate2 certificate)
    {
        _made.Add(certificate);
        return certificate;
    }
}
