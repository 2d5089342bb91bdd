using System.Net.Http.Headers;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery.Auth;

/// <summary>
/// Tokens of <c>auth.type: oauth2_client_credentials</c>: fetched from <c>token_url</c> with the client credentials
/// grant (RFC 6749 §4.4; <c>client_id</c> and <c>client_secret</c> in the form body), cached, and fetched again before
/// they expire (<see cref="RefreshMargin"/>) or when the endpoint refused one. One fetch at a time per route.
/// </summary>
internal sealed class OAuth2TokenSource : IDisposable
{
    /// <summary>64 KiB: the longest token answer read.</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    private readonly AuthSettings _auth;
    private readonly TimeProvider _time;
    private readonly HttpClient _client;
    private readonly SemaphoreSlim _fetch = new(1, 1);
    private (string Token, DateTimeOffset RefreshAt)? _current;

    public OAuth2TokenSource(AuthSettings auth, TimeSpan connectTimeout, TimeSpan timeout, TimeProvider time)
    {
        _auth = auth;
        _time = time;
        _client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = connectTimeout, UseProxy = false, UseCookies = false, AllowAutoRedirect = false }) { Timeout = timeout };
    }

    /// <summary>
    /// A token is fetched again when this part of its lifetime is left: a tenth of <c>expires_in</c>, at least 5 s and
    /// at most 60 s, so a request never goes out with a token about to expire on its way.
    /// </summary>
    public static TimeSpan RefreshMargin(TimeSpan lifetime) => TimeSpan.FromTicks(Math.Clamp(lifetime.Ticks / 10, TimeSpan.FromSeconds(5).Ticks, TimeSpan.FromSeconds(60).Ticks));

    /// <summary>A token to send: the cached one, or a new one when there is none, it is due, or it equals <paramref name="refused"/>.</summary>
    /// <exception cref="AuthFailureException">The token endpoint failed.</exception>
    public async Task<string> TokenAsync(string? refused, CancellationToken token)
    {
        if (Usable(refused) is { } cached)
            return cached;
        await _fetch.WaitAsync(token).ConfigureAwait(false);
        try
        {
            // Another request may have fetched one meanwhile.
            if (Usable(refused) is { } fetched)
                return fetched;
            var (value, lifetime) = await FetchAsync(token).ConfigureAwait(false);
            var refreshAt = lifetime is { } life ? _time.GetUtcNow() + life - RefreshMargin(life) : DateTimeOffset.MaxValue;
            _current = (value, refreshAt);
            return value;
        }
        finally
        {
            _fetch.Release();
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _fetch.Dispose();
    }

    private string? Usable(string? refused) =>
        _current is { } current && current.Token != refused && _time.GetUtcNow() < current.RefreshAt ? current.Token : null;

    private async Task<(string Token, TimeSpan? Lifetime)> FetchAsync(CancellationToken token)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "client_credentials"),
            new("client_id", _auth.ClientId!),
            new("client_secret", _auth.ClientSecret!),
        };
        if (_auth.Scope is { } scope)
            form.Add(new("scope", scope));
        if (_auth.Audience is { } audience)
            form.Add(new("audience", audience));
        var where = $"token_url {_auth.TokenUrl!.GetLeftPart(UriPartial.Path)}";
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _auth.TokenUrl) { Content = new FormUrlEncodedContent(form) };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            var body = await ReadAsync(response.Content, token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new AuthFailureException($"{where} answered HTTP {(int)response.StatusCode}: {Telemetry.LogText.Escape(Hide(body), 200)}");
            return Parse(body) ?? throw new AuthFailureException($"{where} answered without a token: the body must be a JSON object with a string 'access_token'");
        }
        catch (AuthFailureException)
        {
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !token.IsCancellationRequested)
        {
            var why = ex is OperationCanceledException ? "no answer in time" : ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
            throw new AuthFailureException($"{where} failed: {why}", ex);
        }
    }

    // An error page that echoes the request must not carry the client secret into a log line.
    private string Hide(string text) => _auth.ClientSecret is { Length: > 0 } secret ? text.Replace(secret, SecretRedactor.Mask, StringComparison.Ordinal) : text;

    private static (string, TimeSpan?)? Parse(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object
                || !json.RootElement.TryGetProperty("access_token", out var access) || access.ValueKind != JsonValueKind.String || access.GetString() is not { Length: > 0 } value)
                return null;
            TimeSpan? lifetime = json.RootElement.TryGetProperty("expires_in", out var expires) && expires.TryGetInt64(out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(Math.Min(seconds, 366L * 86400))
                : null;
            return (value, lifetime);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<string> ReadAsync(HttpContent content, CancellationToken token)
    {
        var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxAnswerBytes];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), token).ConfigureAwait(false)) > 0)
                length += read;
            return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
        }
    }
}
