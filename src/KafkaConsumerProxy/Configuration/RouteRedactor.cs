using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// One route's secrets, masked as <c>***</c> wherever an endpoint's answer enters what kcp shows or stores: the body
/// excerpt and failure reason of a delivery result (and so the routes API, the dashboard, log lines, skip records and
/// the <c>kcp.dlq.*</c> headers). Knows the route's <see cref="SecretsOf">configured secrets</see>, the HMAC key bytes,
/// and the OAuth2 access tokens as they are fetched (the latest <see cref="KeptTokens"/>), each in every
/// <see cref="SecretRedactor.Forms"/> it may come back in; and masks every secret <see cref="SecretRedactor"/> holds too.
/// Thread-safe.
/// </summary>
internal sealed class RouteRedactor
{
    /// <summary>How many of the latest OAuth2 access tokens are masked (16): an answer may still quote one that was replaced.</summary>
    public const int KeptTokens = 16;

    private readonly string[] _configured;
    private readonly byte[][] _keyBytes;
    private readonly Queue<string> _tokens = new();
    private readonly Lock _gate = new();
    private volatile string[] _forms;
    private volatile byte[][] _formBytes;

    public RouteRedactor(EndpointSettings endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _configured = SecretRedactor.Longest(SecretsOf(endpoint).SelectMany(SecretRedactor.Forms));
        // A whsec_ key is binary: an answer could hold its raw bytes, which no text form matches.
        _keyBytes = endpoint.Auth is { Type: AuthType.Hmac, Secret: { } secret } && HmacSecret.KeyProblem(secret) is null
            && HmacSecret.Key(secret) is { Length: >= SecretRedactor.MinHiddenLength } key ? [key] : [];
        (_forms, _formBytes) = Build(_configured, _keyBytes);
    }

    /// <summary>
    /// The secrets of a route's endpoint and what is derived from them: <c>auth.token</c> (bearer);
    /// <c>auth.password</c> and base64(<c>username:password</c>), with and without padding (basic);
    /// <c>auth.client_secret</c> and base64(<c>client_id:client_secret</c>) (oauth2_client_credentials);
    /// <c>auth.secret</c> and the base64 key after <c>whsec_</c> (hmac); the value of each of <c>headers</c> named like
    /// a secret (<see cref="SecretRedactor.IsSecretKey"/>, e.g. <c>Authorization</c>, <c>X-Api-Key</c>) and the
    /// credentials after its scheme (<c>Bearer …</c>).
    /// </summary>
    public static IEnumerable<string> SecretsOf(EndpointSettings endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var auth = endpoint.Auth;
        switch (auth?.Type)
        {
            case AuthType.Bearer when auth.Token is { } token:
                yield return token;
                break;
            case AuthType.Basic when auth.Password is { } password:
                yield return password;
                foreach (var form in Base64Forms($"{auth.Username}:{password}"))
                    yield return form;
                break;
            case AuthType.OAuth2ClientCredentials when auth.ClientSecret is { } clientSecret:
                yield return clientSecret;
                foreach (var form in Base64Forms($"{auth.ClientId}:{clientSecret}"))
                    yield return form;
                break;
            case AuthType.Hmac when auth.Secret is { } secret:
                yield return secret;
                if (secret.StartsWith("whsec_", StringComparison.Ordinal))
                    yield return secret["whsec_".Length..];
                break;
        }

        foreach (var (name, value) in endpoint.Headers)
        {
            if (!SecretRedactor.IsSecretKey(name))
                continue;
            yield return value;
            if (value.IndexOf(' ', StringComparison.Ordinal) is var space and > 0)
                yield return value[(space + 1)..].Trim();
        }
    }

    /// <summary>Masks <paramref name="token"/> (an OAuth2 access token just fetched) from now on; the oldest beyond <see cref="KeptTokens"/> is dropped.</summary>
    public void AddToken(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        lock (_gate)
        {
            if (_tokens.Contains(token, StringComparer.Ordinal))
                return;
            _tokens.Enqueue(token);
            while (_tokens.Count > KeptTokens)
                _tokens.Dequeue();
            (_forms, _formBytes) = Build(SecretRedactor.Longest([.. _configured, .. _tokens.SelectMany(SecretRedactor.Forms)]), _keyBytes);
        }
    }

    /// <summary><paramref name="text"/> with this route's secrets and every registered one masked (see <see cref="SecretRedactor.Hide"/>).</summary>
    [return: NotNullIfNotNull(nameof(text))]
    public string? Hide(string? text) => SecretRedactor.HideIn(SecretRedactor.HideIn(text, _forms), SecretRedactor.Registered.Text);

    /// <summary>
    /// <paramref name="bytes"/> with this route's secrets and every registered one masked; with <paramref name="cut"/>
    /// (the bytes are the start of a longer body) a secret's start at the very end is masked too.
    /// </summary>
    public byte[] HideBytes(ReadOnlySpan<byte> bytes, bool cut) =>
        SecretRedactor.HideBytesIn(SecretRedactor.HideBytesIn(bytes, _formBytes, cut), SecretRedactor.Registered.Bytes, cut);

    private static (string[], byte[][]) Build(string[] forms, byte[][] keyBytes) =>
        (forms, [.. forms.Select(Encoding.UTF8.GetBytes).Concat(keyBytes).OrderByDescending(b => b.Length)]);

    private static IEnumerable<string> Base64Forms(string credentials)
    {
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials));
        yield return base64;
        yield return base64.TrimEnd('=');
    }
}
