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
        var certFile = reader.String(Key("tls_client_cert_file"));
        var keyFile = reader.String(Key("tls_client_key_file"));
        reader.ReportUnknownKeys();
        if (basic is not null)
            SecretRedactor.Register(basic);
        if (bearer is not null)
            SecretRedactor.Register(bearer);

        // Every rule runs, whatever else is wrong: all errors are reported at once.
        var https = false;
        foreach (var part in url.Length == 0 ? [] : url.Split(','))
        {
            if (UrlProblem(part.Trim(), out var isHttps) is { } problem)
                reader.Error("url", url, problem);
            https |= isHttps;
        }

        if (basic is not null && bearer is not null)
            reader.Error("bearer", null, "must not be set together with basic_auth: the registry is called with one Authorization header");
        if (basic is not null && (basic.IndexOf(':', StringComparison.Ordinal) is <= 0 || basic.Any(char.IsControl)))
            reader.Error("basic_auth", null, "must be user:password (a user of at least one character, then ':' and the password), e.g. \"kcp:${env:REGISTRY_PASSWORD}\"; the value is not shown");
        if (bearer is not null && (bearer.Any(c => c is < '!' or > '~')))
            reader.Error("bearer", null, "must be a token of printable ASCII without spaces; the value is not shown");

        var baseDir = Path.GetDirectoryName(cluster.File)!;
        string? Resolve(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(baseDir, path));
        var tlsKeys = new[] { ("tls_ca_file", caFile), ("tls_client_cert_file", certFile), ("tls_client_key_file", keyFile) }.Where(k => k.Item2 is not null).ToList();
        if (tlsKeys.Count > 0 && !https)
        {
            foreach (var (key, value) in tlsKeys)
                reader.Error(key, value, "applies only with an https:// url (the registry is reached without TLS)");
        }
        else if (tlsKeys.Count > 0)
        {
            EndpointSecurityRules.CheckTlsFiles(reader.Error, new("tls_ca_file", caFile, Resolve(caFile)), new("tls_client_cert_file", certFile, Resolve(certFile)), new("tls_client_key_file", keyFile, Resolve(keyFile)));
        }

        if (errors.Count != before)
            return null;
        return new SchemaRegistrySettings
        {
            Url = string.Join(',', url.Split(',').Select(u => u.Trim())),
            BasicAuth = basic,
            Bearer = bearer,
            CaFile = Resolve(caFile),
            ClientCertFile = Resolve(certFile),
            ClientKeyFile = Resolve(keyFile),
        };
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
