using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads the PEM files of the <c>tls_*</c> keys, the same way for validation and for connections, so a file that passes
/// validation is the file a connection uses. Each reader returns the value or a reason that never quotes file contents.
/// </summary>
internal static class TlsFiles
{
    /// <summary>Every certificate of the PEM bundle <paramref name="path"/>, or why there is none.</summary>
    public static (X509Certificate2Collection? Certificates, string? Problem) LoadCa(string path)
    {
        if (ReadPem(path, out var unreadable) is not { } pem)
            return (null, $"cannot be read as a PEM certificate bundle: {unreadable}");

        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return (null, $"cannot be read as a PEM certificate bundle: {Describe(ex)}");
        }

        return certificates.Count == 0 ? (null, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)") : (certificates, null);
    }

    /// <summary>
    /// The client certificate with its private key, and the CA certificates that follow it in the certificate file (its
    /// chain, sent with it in the handshake), or why it cannot be used.
    /// </summary>
    public static (ClientIdentity? Identity, string? Problem) LoadClient(string certFile, string keyFile)
    {
        if (ReadPem(certFile, out var unreadable) is not { } certPem)
            return (null, $"the certificate file {unreadable}");
        if (ReadPem(keyFile, out unreadable) is not { } keyPem)
            return (null, $"the key file {unreadable}");

        X509Certificate2? certificate = null;
        var chain = new X509Certificate2Collection();
        try
        {
            certificate = X509Certificate2.CreateFromPem(certPem, keyPem);
            if (!certificate.HasPrivateKey)
            {
                certificate.Dispose();
                return (null, "the key file holds no private key for the certificate");
            }

            chain.ImportFromPem(certPem);
            var leaf = chain[0];
            chain.RemoveAt(0);
            leaf.Dispose();
            return (new ClientIdentity(certificate, chain), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            certificate?.Dispose();
            foreach (var extra in chain)
                extra.Dispose();
            return (null, $"the certificate and key files cannot be used together: {Describe(ex)}");
        }
    }

    // Read as config files are: a FIFO, a device or a huge file fails the read with the reason instead of hanging it.
    private static string? ReadPem(string path, out string problem)
    {
        var errors = new List<ConfigError>();
        var text = ConfigFile.ReadText(path, errors, "a PEM file");
        problem = errors.Count > 0 ? errors[0].Message : "cannot be read";
        return text;
    }

    // Exception messages of these readers name the file or the PEM problem, never key material.
    private static string Describe(Exception ex) => ex switch
    {
        FileNotFoundException or DirectoryNotFoundException => "file not found",
        UnauthorizedAccessException => "permission denied",
        _ => ex.Message,
    };
}

/// <summary>
/// A client certificate with its key and the chain sent with it: the CA certificates that followed it in its PEM file.
/// Without them a server that trusts only a root would refuse a certificate issued by an intermediate CA.
/// </summary>
internal sealed class ClientIdentity : IDisposable
{
    private readonly X509Certificate2Collection _chain;

    public ClientIdentity(X509Certificate2 certificate, X509Certificate2Collection chain)
    {
        Certificate = certificate;
        _chain = chain;
        Context = SslStreamCertificateContext.Create(certificate, chain, offline: true);
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>What the handshake sends: the certificate and its chain.</summary>
    public SslStreamCertificateContext Context { get; }

    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var certificate in _chain)
            certificate.Dispose();
    }
}
