namespace KafkaConsumerProxy.Configuration;

/// <summary>The kinds of <c>auth.type</c>.</summary>
internal enum AuthType
{
    /// <summary><c>bearer</c>: <c>Authorization: Bearer {token}</c>.</summary>
    Bearer,

    /// <summary><c>basic</c>: <c>Authorization: Basic base64(username:password)</c>.</summary>
    Basic,

    /// <summary><c>oauth2_client_credentials</c>: a token from <c>token_url</c> (RFC 6749 §4.4), cached and refreshed.</summary>
    OAuth2ClientCredentials,

    /// <summary><c>hmac</c>: every request signed the Standard Webhooks way (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>).</summary>
    Hmac,
}

/// <summary>
/// A route's <c>auth</c> mapping. Only the keys of its <see cref="Type"/> are set; secret values (<c>token</c>,
/// <c>password</c>, <c>client_secret</c>, <c>secret</c>) are usually <c>${env:NAME}</c> or <c>${file:/path}</c> references.
/// </summary>
internal sealed record AuthSettings
{
    public required AuthType Type { get; init; }

    /// <summary><c>auth.type</c>: required within <c>auth</c>, as the file writes it.</summary>
    public static readonly RouteKey TypeKey = new("type", RouteKeyKind.Choice) { Choices = ["bearer", "basic", "oauth2_client_credentials", "hmac"], Description = "The kind of authentication; each kind takes its own keys." };

    /// <summary>Every other key of the <c>auth</c> mapping, the type it belongs to and whether that type needs it.</summary>
    public static readonly IReadOnlyList<(RouteKey Key, string Type, bool Required)> KeysOfTypes =
    [
        (Key("token", "Bearer token, sent as 'Authorization: Bearer <token>'; usually ${env:NAME} or ${file:/path}."), "bearer", true),
        (Key("username", "User name of basic authentication."), "basic", true), (Key("password", "Password of basic authentication; usually ${env:NAME} or ${file:/path}."), "basic", true),
        (Key("token_url", "The identity provider's token URL (http:// or https://)."), "oauth2_client_credentials", true), (Key("client_id", "OAuth2 client id."), "oauth2_client_credentials", true),
        (Key("client_secret", "OAuth2 client secret; usually ${env:NAME} or ${file:/path}."), "oauth2_client_credentials", true), (Key("scope", "OAuth2 scope asked for."), "oauth2_client_credentials", false),
        (Key("audience", "OAuth2 audience asked for."), "oauth2_client_credentials", false),
        (Key("secret", "Signing key: whsec_<base64> (the decoded bytes) or any other string (its UTF-8 bytes)."), "hmac", true),
    ];

    private static RouteKey Key(string name, string description) => RouteKey.String(name) with { Description = description };

    /// <summary><c>token</c> (bearer).</summary>
    public string? Token { get; init; }

    /// <summary><c>username</c> (basic).</summary>
    public string? Username { get; init; }

    /// <summary><c>password</c> (basic).</summary>
    public string? Password { get; init; }

    /// <summary><c>token_url</c> (oauth2_client_credentials): an http or https URL.</summary>
    public Uri? TokenUrl { get; init; }

    /// <summary><c>client_id</c> (oauth2_client_credentials).</summary>
    public string? ClientId { get; init; }

    /// <summary><c>client_secret</c> (oauth2_client_credentials).</summary>
    public string? ClientSecret { get; init; }

    /// <summary><c>scope</c> (oauth2_client_credentials, optional).</summary>
    public string? Scope { get; init; }

    /// <summary><c>audience</c> (oauth2_client_credentials, optional).</summary>
    public string? Audience { get; init; }

    /// <summary><c>secret</c> (hmac): <c>whsec_&lt;base64&gt;</c> (the decoded bytes are the key) or any other string (its UTF-8 bytes).</summary>
    public string? Secret { get; init; }
}
