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
        // No tls_* keys (unknown keys here): Confluent's client (2.16) checks a CA file only against the direct issuer of a
        // chain the system builds, which fails for a CA outside the system trust store, and reads client certificates only
        // from PKCS#12 files. An https:// registry's certificate must be trusted by the system trust store.
        reader.ReportUnknownKeys();
        if (basic is not null)
            SecretRedactor.Register(basic);
        if (bearer is not null)
            SecretRedactor.Register(bearer);

        // Every rule runs, whatever else is wrong: all errors are reported at once.
        foreach (var part in url.Length == 0 ? [] : url.Split(','))
        {
            if (UrlProblem(part.Trim(), out _) is { } problem)
                reader.Error("url", url, problem);
        }

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
