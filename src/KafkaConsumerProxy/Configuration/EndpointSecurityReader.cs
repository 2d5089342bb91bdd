using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads a route's secure endpoint keys: <c>scheme</c>, <c>tls_*</c>, <c>auth</c> and <c>headers</c>. TLS files are read now,
/// with the code that reads them for connections.
/// </summary>
internal static class EndpointSecurityReader
{
    /// <summary>
    /// The keys of a secure endpoint: <c>scheme</c> and <c>tls_*</c>. Files are resolved against the route file's
    /// directory and read now, with the code that reads them for connections.
    /// </summary>
    public static RouteDefinition Read(MapReader r, RouteDefinition route, List<ConfigError> errors)
    {
        var before = r.ErrorCount;
        var scheme = r.Choice(TlsSettings.SchemeKey);
        var caFile = r.String(TlsSettings.CaFileKey);
        var serverName = r.String(TlsSettings.ServerNameKey);
        var certFile = r.String(TlsSettings.ClientCertFileKey);
        var keyFile = r.String(TlsSettings.ClientKeyFileKey);
        var insecure = r.Bool(TlsSettings.InsecureSkipVerifyKey);
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
        route = route with { Endpoint = route.Endpoint with { Tls = tls, Auth = ReadAuth(r, errors), Headers = ReadHeaders(r, errors) } };
        // Masked in everything kcp writes from now on (audit, admin and validation messages too), not only in the route's results.
        foreach (var secret in RouteRedactor.SecretsOf(route.Endpoint))
            SecretRedactor.Register(secret);
        if (r.ErrorCount != before)
            return route;
        if (route.Endpoint.Auth?.Type == AuthType.Hmac && route.Endpoint.Headers.Any(h => h.Key.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase)))
            r.Error("headers", null, "must not set webhook-* headers with auth.type: hmac, which sets them");
        else if (route.Endpoint.Auth?.Type is AuthType.Bearer or AuthType.Basic or AuthType.OAuth2ClientCredentials && route.Endpoint.Headers.Any(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)))
            r.Error("headers.Authorization", null, "must not be set together with auth, which sets it");

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
        CheckTlsFiles(r, new("tls_ca_file", caFile, tls.CaFile), new("tls_client_cert_file", certFile, tls.ClientCertFile), new("tls_client_key_file", keyFile, tls.ClientKeyFile));
        return route;
    }

    /// <summary>A key that names a TLS file: as written, and resolved (null when not given).</summary>
    internal readonly record struct TlsFileKey(string Key, string? Text, string? Path);

    /// <summary>
    /// Reads a CA bundle and a client certificate with its key now, with the code connections read them with, and reports
    /// under those keys what is wrong: unreadable or not PEM, a certificate without its key (or the reverse), a key that
    /// does not match, an expired client certificate.
    /// </summary>
    internal static void CheckTlsFiles(MapReader r, TlsFileKey ca, TlsFileKey cert, TlsFileKey key)
    {
        if (ca.Path is not null && TlsFiles.LoadCa(ca.Path).Problem is { } caProblem)
            r.Error(ca.Key, ca.Text, $"{caProblem} ({ca.Path})");
        if ((cert.Text is null) != (key.Text is null))
        {
            var (given, missing) = cert.Text is null ? (key, cert) : (cert, key);
            r.Error(given.Key, given.Text, $"needs {missing.Key} as well: a client certificate is used with its private key");
        }
        else if (cert.Path is not null && key.Path is not null)
        {
            var (identity, problem) = TlsFiles.LoadClient(cert.Path, key.Path);
            if (problem is not null)
                r.Error(cert.Key, cert.Text, $"{problem} ({cert.Path}, {key.Path})");
            else if (identity!.Certificate.NotAfter.ToUniversalTime() < TimeProvider.System.GetUtcNow().UtcDateTime)
                r.Error(cert.Key, cert.Text, string.Create(CultureInfo.InvariantCulture, $"the certificate expired on {identity.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"));
            identity?.Dispose();
        }
    }

    private static readonly string[] AuthTypes = ["bearer", "basic", "oauth2_client_credentials", "hmac"];

    // Every key of the auth mapping, and the types it belongs to.
    private static readonly (string Key, string Type, bool Required)[] AuthKeys =
    [
        ("token", "bearer", true),
        ("username", "basic", true), ("password", "basic", true),
        ("token_url", "oauth2_client_credentials", true), ("client_id", "oauth2_client_credentials", true),
        ("client_secret", "oauth2_client_credentials", true), ("scope", "oauth2_client_credentials", false),
        ("audience", "oauth2_client_credentials", false),
        ("secret", "hmac", true),
    ];

    // Headers kcp sets itself, and those the HTTP client owns; a static header must not replace them.
    private static readonly string[] ReservedHeaders =
        ["Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect", "Idempotency-Key", "traceparent", "tracestate"];

    /// <summary>The <c>auth</c> mapping: <c>type</c> and the keys of that type; null when absent or invalid.</summary>
    private static AuthSettings? ReadAuth(MapReader route, List<ConfigError> errors)
    {
        var node = route.Mapping("auth", required: false, "a mapping with a 'type' (bearer, basic, oauth2_client_credentials or hmac) and its keys");
        if (node is null)
            return null;
        var before = errors.Count;
        var a = new MapReader(route.File, node, errors, "auth.");
        var type = a.Choice("type", AuthTypes);
        if (type is null && errors.Count == before)
            a.Error("type", null, "required key is missing; must be one of: " + string.Join(", ", AuthTypes));
        var values = AuthKeys.ToDictionary(k => k.Key, k => a.OptionalString(k.Key));
        a.ReportUnknownKeys();
        if (type is null)
            return null;

        foreach (var (key, owner, required) in AuthKeys)
        {
            if (owner != type && values[key] is not null)
                a.Error(key, values[key], $"applies only with auth.type: {owner}");
            else if (owner == type && required && values[key] is null)
                a.Error(key, null, $"required key is missing for auth.type: {type}");
        }

        foreach (var key in new[] { "token", "username", "password", "client_id", "client_secret", "scope", "audience" })
        {
            if (values[key] is { } text && text.Any(char.IsControl))
                a.Error(key, text, "must not contain control characters (a line break read from a file is removed only at its end)");
        }

        if (values["token"] is { } bearer && bearer.Any(c => c == ' ' || c > '\x7e'))
            a.Error("token", bearer, "must be printable ASCII without spaces: it is sent as 'Authorization: Bearer <token>'");
        if (values["username"] is { } user && user.Contains(':', StringComparison.Ordinal))
            a.Error("username", user, "must not contain ':', which separates it from the password in basic authentication");
        Uri? tokenUrl = null;
        if (values["token_url"] is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out tokenUrl) || tokenUrl.Scheme is not ("http" or "https") || tokenUrl.UserInfo.Length > 0 || tokenUrl.Fragment.Length > 0))
            a.Error("token_url", url, "must be an absolute http:// or https:// URL without user information or fragment");
        if (values["secret"] is { } secret && HmacSecret.KeyProblem(secret) is { } keyProblem)
            a.Error("secret", secret, keyProblem);
        if (errors.Count != before)
            return null;

        return new AuthSettings
        {
            Type = type switch
            {
                "bearer" => AuthType.Bearer,
                "basic" => AuthType.Basic,
                "oauth2_client_credentials" => AuthType.OAuth2ClientCredentials,
                _ => AuthType.Hmac,
            },
            Token = values["token"],
            Username = values["username"],
            Password = values["password"],
            TokenUrl = tokenUrl,
            ClientId = values["client_id"],
            ClientSecret = values["client_secret"],
            Scope = values["scope"],
            Audience = values["audience"],
            Secret = values["secret"],
        };
    }

    /// <summary>The <c>headers</c> mapping: names are HTTP tokens, values printable ASCII, kcp's own headers are refused.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> ReadHeaders(MapReader route, List<ConfigError> errors)
    {
        var node = route.Mapping("headers", required: false, "a mapping of header names to values");
        if (node is null)
            return [];
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in node.Entries)
        {
            var key = $"headers.{name}";
            string? text = value is ScalarNode { IsNull: false } scalar ? scalar.Text : null;
            string Shown() => SecretRedactor.Redact(name, text) ?? "";
            if (name.Length == 0 || !name.All(IsTokenChar))
                errors.Add(new ConfigError(route.File, key, null, "must be a header name: letters, digits and !#$%&'*+-.^_`|~"));
            else if (ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase) || name.StartsWith("X-Kafka-", StringComparison.OrdinalIgnoreCase))
                errors.Add(new ConfigError(route.File, key, null, "is set by kcp (or by the HTTP client) and cannot be replaced; X-Kafka-*, Idempotency-Key, traceparent, tracestate, Host, Content-Type and the connection headers are reserved"));
            else if (text is null)
                errors.Add(new ConfigError(route.File, key, null, $"must be a string, got {value.Kind}"));
            else if (text.Any(c => c is < ' ' or > '\x7e'))
                errors.Add(new ConfigError(route.File, key, Shown(), "must be printable ASCII: no line breaks, control or non-ASCII characters in a header value"));
            else if (headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)))
                errors.Add(new ConfigError(route.File, key, null, "is given twice (header names are case-insensitive)"));
            else
                headers.Add(new(name, text));
        }

        return headers;
    }

    // RFC 9110 tchar.
    internal static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
}
