namespace KafkaConsumerProxy.Configuration;

/// <summary>Reads <c>clusters.&lt;name&gt;.schema_registry</c> of the main config file.</summary>
internal static class SchemaRegistrySectionReader
{
    /// <summary>The cluster's registry, or null when it has none or the section has an error (reported).</summary>
    public static SchemaRegistrySettings? Read(MapReader cluster, string prefix, List<ConfigError> errors)
    {
        var before = errors.Count;
        var node = cluster.Mapping(MainFileKeys.Of(MainFileKeys.ClusterKeys, "schema_registry"));
        if (node is null)
            return null;

        var reader = new MapReader(cluster.File, node, errors, $"{prefix}schema_registry.");
        var url = reader.String(Key("url")) ?? "";
        var basic = reader.String(Key("basic_auth"));
        var bearer = reader.String(Key("bearer"));
        var caFile = reader.String(Key("tls_ca_file"));
        var serverName = reader.String(Key("tls_server_name"));
        var certFile = reader.String(Key("tls_client_cert_file"));
        var keyFile = reader.String(Key("tls_client_key_file"));
        var insecure = reader.Bool(Key("tls_insecure_skip_verify"));
        reader.ReportUnknownKeys();
        if (basic is not null)
            SecretRedactor.Register(basic);
        if (bearer is not null)
            SecretRedactor.Register(bearer);

        // Every rule runs, whatever else is wrong: all errors are reported at once.
        var anyHttps = false;
        var urlsRead = true;
        foreach (var part in url.Length == 0 ? [] : url.Split(','))
        {
            if (UrlProblem(part.Trim(), out var https) is { } problem)
            {
                reader.Error("url", url, problem);
                urlsRead = false;
            }

            anyHttps |= https;
        }

        string? Resolve(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cluster.File)!, path));
        if (urlsRead && url.Length > 0)
            CheckTls(reader, anyHttps, caFile, serverName, certFile, keyFile, insecure, Resolve);

        if (basic is not null && bearer is not null)
            reader.Error("bearer", null, "must not be set together with basic_auth: the registry is called with one Authorization header");
        if (basic is not null && (basic.IndexOf(':', StringComparison.Ordinal) is <= 0 || basic.Any(char.IsControl)))
            reader.Error("basic_auth", null, "must be user:password (a user of at least one character, then ':' and the password), e.g. \"kcp:${env:REGISTRY_PASSWORD}\"; the value is not shown");
        if (bearer is not null && (bearer.Any(c => c is < '!' or > '~')))
            reader.Error("bearer", null, "must be a token of printable ASCII without spaces; the value is not shown");

        if (errors.Count != before)
            return null;
        return new SchemaRegistrySettings
        {
            Url = string.Join(',', url.Split(',').Select(u => u.Trim())),
            BasicAuth = basic,
            Bearer = bearer,
            Tls = new TlsSettings
            {
                Scheme = anyHttps ? EndpointScheme.Https : EndpointScheme.Http,
                CaFile = Resolve(caFile),
                ServerName = serverName,
                ClientCertFile = Resolve(certFile),
                ClientKeyFile = Resolve(keyFile),
                InsecureSkipVerify = insecure ?? false,
            },
        };
    }

    /// <summary>
    /// The <c>tls_*</c> keys, with a route's rules: they apply only with an https:// url; a server name is a host name or
    /// an IP address; skipping verification leaves no room for a CA file or a server name; the files are read now, with
    /// the code the connections read them with.
    /// </summary>
    private static void CheckTls(MapReader reader, bool anyHttps, string? caFile, string? serverName, string? certFile, string? keyFile, bool? insecure, Func<string?, string?> resolve)
    {
        if (!anyHttps)
        {
            foreach (var (key, value) in new[] { ("tls_ca_file", caFile), ("tls_server_name", serverName), ("tls_client_cert_file", certFile), ("tls_client_key_file", keyFile), ("tls_insecure_skip_verify", insecure?.ToString().ToLowerInvariant()) })
            {
                if (value is not null)
                    reader.Error(key, value, "applies only with an https:// url (the registry is reached without TLS)");
            }

            return;
        }

        if (serverName is not null && Uri.CheckHostName(serverName) is UriHostNameType.Unknown or UriHostNameType.Basic)
            reader.Error("tls_server_name", serverName, "must be a host name or IP address (no port, scheme or path): the name the registry's certificate must be valid for");
        if (insecure == true && (caFile is not null || serverName is not null))
            reader.Error("tls_insecure_skip_verify", "true", $"turns certificate checks off, so {(caFile is not null ? "tls_ca_file" : "tls_server_name")} would have no effect; remove one of them");
        EndpointSecurityRules.CheckTlsFiles(reader.Error, new("tls_ca_file", caFile, resolve(caFile)), new("tls_client_cert_file", certFile, resolve(certFile)), new("tls_client_key_file", keyFile, resolve(keyFile)));
    }

    private static RouteKey Key(string name) => MainFileKeys.Of(MainFileKeys.SchemaRegistryKeys, name);

    /// <summary>Why <paramref name="text"/> cannot be a registry base URL, or null.</summary>
    internal static string? UrlProblem(string text, out bool https)
    {
        https = false;
        if (text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            return "must be an absolute http:// or https:// URL of a Schema Registry, e.g. http://schema-registry:8081, or several separated by ','";
        https = uri.Scheme == "https";
        if (uri.UserInfo.Length > 0)
            return "must not carry user information ('user:password@'); set basic_auth instead";
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
            return "must not have a query ('?') or fragment ('#')";
        return null;
    }
}
