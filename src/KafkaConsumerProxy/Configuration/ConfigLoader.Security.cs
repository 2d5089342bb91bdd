using System.Globalization;
using KafkaConsumerProxy.Delivery.Tls;

namespace KafkaConsumerProxy.Configuration;

public static partial class ConfigLoader
{
    private static readonly string[] Schemes = ["http", "https"];

    /// <summary>
    /// The keys of a secure endpoint: <c>scheme</c> and <c>tls_*</c>. Files are resolved against the route file's
    /// directory and read now, with the code that reads them for connections.
    /// </summary>
    private static RouteDefinition ReadSecurityKeys(MapReader r, RouteDefinition route)
    {
        var before = r.ErrorCount;
        var scheme = r.Choice("scheme", Schemes);
        var caFile = r.OptionalString("tls_ca_file");
        var serverName = r.OptionalString("tls_server_name");
        var certFile = r.OptionalString("tls_client_cert_file");
        var keyFile = r.OptionalString("tls_client_key_file");
        var insecure = r.Bool("tls_insecure_skip_verify", required: false);
        var baseDir = Path.GetDirectoryName(r.File)!;
        string? Resolve(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(baseDir, path));
        var tls = new TlsSettings
        {
            Scheme = scheme == "https" ? EndpointScheme.Https : EndpointScheme.Http,
            CaFile = Resolve(caFile),
            ServerName = serverName,
            ClientCertFile = Resolve(certFile),
            ClientKeyFile = Resolve(keyFile),
            InsecureSkipVerify = insecure ?? false,
        };
        route = route with { Endpoint = route.Endpoint with { Tls = tls } };
        if (r.ErrorCount != before)
            return route;

        if (!tls.Enabled)
        {
            foreach (var (key, value) in new[] { ("tls_ca_file", caFile), ("tls_server_name", serverName), ("tls_client_cert_file", certFile), ("tls_client_key_file", keyFile), ("tls_insecure_skip_verify", insecure?.ToString().ToLowerInvariant()) })
            {
                if (value is not null)
                    r.Error(key, value, "applies only with scheme: https");
            }

            return route;
        }

        if (serverName is not null && Uri.CheckHostName(serverName) is UriHostNameType.Unknown or UriHostNameType.Basic)
            r.Error("tls_server_name", serverName, "must be a host name or IP address (no port, scheme or path): the name the endpoint's certificate must be valid for");
        if (insecure == true && (caFile is not null || serverName is not null))
            r.Error("tls_insecure_skip_verify", "true", $"turns certificate checks off, so {(caFile is not null ? "tls_ca_file" : "tls_server_name")} would have no effect; remove one of them");
        if (tls.CaFile is not null && TlsFiles.LoadCa(tls.CaFile).Problem is { } caProblem)
            r.Error("tls_ca_file", caFile, $"{caProblem} ({tls.CaFile})");
        if ((certFile is null) != (keyFile is null))
        {
            var (given, missing) = certFile is null ? ("tls_client_key_file", "tls_client_cert_file") : ("tls_client_cert_file", "tls_client_key_file");
            r.Error(given, certFile ?? keyFile, $"needs {missing} as well: a client certificate is used with its private key");
        }
        else if (tls.ClientCertFile is not null && tls.ClientKeyFile is not null)
        {
            var (certificate, problem) = TlsFiles.LoadClient(tls.ClientCertFile, tls.ClientKeyFile);
            if (problem is not null)
                r.Error("tls_client_cert_file", certFile, $"{problem} ({tls.ClientCertFile}, {tls.ClientKeyFile})");
            else if (certificate!.NotAfter.ToUniversalTime() < TimeProvider.System.GetUtcNow().UtcDateTime)
                r.Error("tls_client_cert_file", certFile, string.Create(CultureInfo.InvariantCulture, $"the certificate expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"));
            certificate?.Dispose();
        }

        return route;
    }
}
