using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Checks a route's secure endpoint keys, bound: <c>scheme</c>, <c>tls_*</c>, <c>auth</c> and <c>headers</c>, and the rules
/// between them. TLS files are read now, with the code that reads them for connections.
/// </summary>
internal static class EndpointSecurityRules
{
    /// <summary>
    /// Checks the keys of a secure endpoint with <paramref name="check"/> (the route's <see cref="KeyChecker"/>), in the
    /// order the route's keys are checked, and returns the <c>headers</c> that passed. Files are resolved against the
    /// route file's directory and read now, with the code that reads them for connections.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Check(KeyChecker check, RouteBinding route)
    {
        var before = check.ErrorCount;
        var scheme = check.Choice(route[TlsSettings.SchemeKey]);
        var caFile = check.String(route[TlsSettings.CaFileKey]);
        var serverName = check.String(route[TlsSettings.ServerNameKey]);
        var certFile = check.String(route[TlsSettings.ClientCertFileKey]);
        var keyFile = check.String(route[TlsSettings.ClientKeyFileKey]);
        var insecure = check.Bool(route[TlsSettings.InsecureSkipVerifyKey]);
        var tlsEnabled = (route.Endpoint?.Scheme ?? (scheme == "https" ? EndpointScheme.Https : EndpointScheme.Http)) == EndpointScheme.Https;
        var auth = CheckAuth(check, route) ? route.ToAuth() : null;
        var headers = CheckHeaders(check, route);
        // Masked in everything kcp writes from now on (audit, admin and validation messages too), not only in the route's results.
        foreach (var secret in RouteRedactor.SecretsOf(new EndpointSettings { Auth = auth, Headers = headers }))
            SecretRedactor.Register(secret);
        if (check.ErrorCount != before)
            return headers;
        if (auth?.Type == AuthType.Hmac && headers.Any(h => h.Key.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase)))
            check.Error("headers", null, "must not set webhook-* headers with auth.type: hmac, which sets them");
        else if (auth?.Type is AuthType.Bearer or AuthType.Basic or AuthType.OAuth2ClientCredentials && headers.Any(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)))
            check.Error("headers.Authorization", null, "must not be set together with auth, which sets it");

        if (!tlsEnabled)
        {
            foreach (var (key, value) in new[] { ("tls_ca_file", caFile), ("tls_server_name", serverName), ("tls_client_cert_file", certFile), ("tls_client_key_file", keyFile), ("tls_insecure_skip_verify", insecure?.ToString().ToLowerInvariant()) })
            {
                if (value is not null)
                    check.Error(key, value, "applies only with scheme: https");
            }

            return headers;
        }

        if (serverName is not null && Uri.CheckHostName(serverName) is UriHostNameType.Unknown or UriHostNameType.Basic)
            check.Error("tls_server_name", serverName, "must be a host name or IP address (no port, scheme or path): the name the endpoint's certificate must be valid for");
        if (insecure == true && (caFile is not null || serverName is not null))
            check.Error("tls_insecure_skip_verify", "true", $"turns certificate checks off, so {(caFile is not null ? "tls_ca_file" : "tls_server_name")} would have no effect; remove one of them");
        CheckTlsFiles(check.Error, new("tls_ca_file", caFile, route.ResolvePath(caFile)), new("tls_client_cert_file", certFile, route.ResolvePath(certFile)), new("tls_client_key_file", keyFile, route.ResolvePath(keyFile)));
        return headers;
    }

    /// <summary>A key that names a TLS file: as written, and resolved (null when not given).</summary>
    internal readonly record struct TlsFileKey(string Key, string? Text, string? Path);

    /// <summary>
    /// Reads a CA bundle and a client certificate with its key now, with the code connections read them with, and reports
    /// under those keys what is wrong: unreadable or not PEM, a certificate without its key (or the reverse), a key that
    /// does not match, an expired client certificate.
    /// </summary>
    internal static void CheckTlsFiles(Action<string, string?, string> error, TlsFileKey ca, TlsFileKey cert, TlsFileKey key)
    {
        if (ca.Path is not null && TlsFiles.LoadCa(ca.Path).Problem is { } caProblem)
            error(ca.Key, ca.Text, $"{caProblem} ({ca.Path})");
        if ((cert.Text is null) != (key.Text is null))
        {
            var (given, missing) = cert.Text is null ? (key, cert) : (cert, key);
            error(given.Key, given.Text, $"needs {missing.Key} as well: a client certificate is used with its private key");
        }
        else if (cert.Path is not null && key.Path is not null)
        {
            var (identity, problem) = TlsFiles.LoadClient(cert.Path, key.Path);
            if (problem is not null)
                error(cert.Key, cert.Text, $"{problem} ({cert.Path}, {key.Path})");
            // On the system clock: the endpoint judges the certificate against real time, whatever clock kcp runs on.
            else if (identity!.Certificate.NotAfter.ToUniversalTime() < TimeProvider.System.GetUtcNow().UtcDateTime)
                error(cert.Key, cert.Text, string.Create(CultureInfo.InvariantCulture, $"the certificate expired on {identity.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"));
            identity?.Dispose();
        }
    }

    // Headers kcp sets itself, and those the HTTP client owns; a static header must not replace them.
    private static readonly string[] ReservedHeaders =
        ["Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect", "Idempotency-Key", "traceparent", "tracestate"];

    /// <summary>The <c>auth</c> mapping: <c>type</c> and the keys of that type; true when it is present and passed.</summary>
    private static bool CheckAuth(KeyChecker route, RouteBinding binding)
    {
        if (route.Mapping(binding[EndpointSettings.AuthKey]) is null)
            return false;
        var a = route.For(binding.AuthMap!);
        var before = a.ErrorCount;
        var type = a.Choice(binding.Auth(AuthSettings.TypeKey));
        if (type is null && a.ErrorCount == before)
            a.Error("type", null, "required key is missing; must be " + AuthSettings.TypeKey.Expected);
        var values = AuthSettings.KeysOfTypes.ToDictionary(k => k.Key.Name, k => a.String(binding.Auth(k.Key)));
        a.ReportUnknownKeys();
        if (type is null)
            return false;

        foreach (var (declared, owner, required) in AuthSettings.KeysOfTypes)
        {
            var key = declared.Name;
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
        if (values["token_url"] is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out var tokenUrl) || tokenUrl.Scheme is not ("http" or "https") || tokenUrl.UserInfo.Length > 0 || tokenUrl.Fragment.Length > 0))
            a.Error("token_url", url, "must be an absolute http:// or https:// URL without user information or fragment");
        if (values["secret"] is { } secret && HmacSecret.KeyProblem(secret) is { } keyProblem)
            a.Error("secret", secret, keyProblem);
        return a.ErrorCount == before;
    }

    /// <summary>
    /// The <c>headers</c> mapping: names are HTTP tokens, values printable ASCII, kcp's own headers are refused. Returns
    /// the headers that passed.
    /// </summary>
    private static List<KeyValuePair<string, string>> CheckHeaders(KeyChecker route, RouteBinding binding)
    {
        var node = route.Mapping(binding[EndpointSettings.HeadersKey]);
        if (node is null)
            return [];
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in node.Entries)
        {
            var key = $"headers.{name}";
            string? text = value is ScalarNode { IsNull: false } scalar ? scalar.Text : null;
            string Shown() => SecretRedactor.Redact(name, text) ?? "";
            if (name.Length == 0 || !name.All(IsTokenChar))
                route.Add(new ConfigError(route.File, key, null, "must be a header name: letters, digits and !#$%&'*+-.^_`|~"));
            else if (ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase) || name.StartsWith("X-Kafka-", StringComparison.OrdinalIgnoreCase))
                route.Add(new ConfigError(route.File, key, null, "is set by kcp (or by the HTTP client) and cannot be replaced; X-Kafka-*, Idempotency-Key, traceparent, tracestate, Host, Content-Type and the connection headers are reserved"));
            else if (text is null)
                route.Add(new ConfigError(route.File, key, null, $"must be a string, got {value.Kind}"));
            else if (text.Any(c => c is < ' ' or > '\x7e'))
                route.Add(new ConfigError(route.File, key, Shown(), "must be printable ASCII: no line breaks, control or non-ASCII characters in a header value"));
            else if (headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)))
                route.Add(new ConfigError(route.File, key, null, "is given twice (header names are case-insensitive)"));
            else
                headers.Add(new(name, text));
        }

        return headers;
    }

    /// <summary>The characters besides ASCII letters and digits that an HTTP token (a header name) may hold: RFC 9110 tchar.</summary>
    internal const string TokenPunctuation = "!#$%&'*+-.^_`|~";

    internal static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || TokenPunctuation.Contains(c, StringComparison.Ordinal);
}
