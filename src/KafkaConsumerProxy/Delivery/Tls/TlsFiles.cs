using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KafkaConsumerProxy.Delivery.Tls;

/// <summary>
/// Reads the PEM files of the <c>tls_*</c> keys, the same way for validation and for connections, so a file that passes
/// validation is the file a connection uses. Each reader returns the value or a reason that never quotes file contents.
/// </summary>
internal static class TlsFiles
{
    /// <summary>Every certificate of the PEM bundle <paramref name="path"/>, or why there is none.</summary>
    public static (X509Certificate2Collection? Certificates, string? Problem) LoadCa(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return (null, $"cannot be read as a PEM certificate bundle: {Describe(ex)}");
        }

        return certificates.Count == 0 ? (null, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)") : (certificates, null);
    }

    /// <summary>The client certificate with its private key, or why it cannot be used.</summary>
    public static (X509Certificate2? Certificate, string? Problem) LoadClient(string certFile, string keyFile)
    {
        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            if (!certificate.HasPrivateKey)
            {
                certificate.Dispose();
                return (null, "the key file holds no private key for the certificate");
            }

            return (certificate, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return (null, $"the certificate and key files cannot be used together: {Describe(ex)}");
        }
    }

    // Exception messages of these readers name the file or the PEM problem, never key material.
    private static string Describe(Exception ex) => ex switch
    {
        FileNotFoundException or DirectoryNotFoundException => "file not found",
        UnauthorizedAccessException => "permission denied",
        _ => ex.Message,
    };
}
