using System.Net.Http.Headers;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery.Auth;

/// <summary>
/// Tokens of <c>auth.type: oauth2_client_credentials</c>: fetched from <c>token_url</c> with the client credentials
/// grant (RFC 6749 §4.4; <c>client_id</c> and <c>client_secret</c> in the form body), cached, and fetched again before
/// they expire (<see cref="RefreshMargin"/>) or when the endpoint refused one. One fetch at a time per route. Every
/// token fetched is masked in what kcp shows from then on (<see cref="RouteRedactor.AddToken"/>). A failure is an
/// <see cref="AuthFailureException"/> naming the token request and <c>token_url</c>, also when the attempt's
/// <c>exec_timeout_ms</c> ran out while the token was fetched or waited for: the endpoint itself was not called.
/// </summary>
internal sealed class OAuth2TokenSource : IDisposable
{
    /// <summary>64 KiB: the longest token answer read.</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    private readonly AuthSettings _auth;
    private readonly TimeProvider _time;
    private readonly RouteRedactor _secrets;
    private readonly string _where;
    private readonly string _noAnswer;
    private readonly string _noConnection;
    private readonly TimeSpan _timeout;
    private readonly HttpClient _client;
    private readonly SemaphoreSlim _fetch = new(1, 1);
    private (string Token, DateTimeOffset RefreshAt)? _current;

    public OAuth2TokenSource(AuthSettings auth, TimeSpan connectTimeout, TimeSpan timeout, TimeProvider time, RouteRedactor secrets)
    {
        _auth = auth;
        _time = time;
        _secrets = secrets;
        _where = $"token request to token_url {auth.TokenUrl!.GetLeftPart(UriPartial.Path)}";
        _noAnswer = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_where} had no answer within exec_timeout_ms={timeout.TotalMilliseconds}");
        _noConnection = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_where} had no connection within conn_timeout_ms={connectTimeout.TotalMilliseconds}");
        _timeout = timeout;
        _client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = connectTimeout, UseProxy = false, UseCookies = false, AllowAutoRedirect = false }) { Timeout = timeout };
    }

    /// <summary>
    /// A token is fetched again when this part of its lifetime is left: a tenth of <c>expires_in</c>, at least 5 s and
    /// at most 60 s, so a request never goes out with a token about to expire on its way.
    /// </summary>
    public static TimeSpan RefreshMargin(TimeSpan lifetime) => TimeSpan.FromTicks(Math.Clamp(lifetime.Ticks / 10, TimeSpan.FromSeconds(5).Ticks, TimeSpan.FromSeconds(60).Ticks));

    /// <summary>A token to send: the cached one, or a new one when there is none, it is due, or it equals <paramref name="refused"/>.</summary>
    /// <param name="refused">The token the endpoint just refused (401), or null.</param>
    /// <param name="attempt">The attempt's <c>exec_timeout_ms</c>: cancelled only when it runs out.</param>
    /// <exception cref="AuthFailureException">The token endpoint failed, or did not answer within the attempt's time.</exception>
    public async Task<string> TokenAsync(string? refused, CancellationToken attempt)
    {
        if (Usable(refused) is { } cached)
            return cached;
        try
        {
            await _fetch.WaitAsync(attempt).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (attempt.IsCancellationRequested)
        {
            // Waiting for another request's fetch of the token.
            throw new AuthFailureException(_noAnswer, ex);
        }

        try
        {
            // Another request may have fetched one meanwhile.
            if (Usable(refused) is { } fetched)
                return fetched;
            var (value, lifetime) = await FetchAsync(attempt).ConfigureAwait(false);
            _secrets.AddToken(value);
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
        // Measured on the system clock, as the handler's ConnectTimeout and the client's Timeout it is compared with run
        // there (neither takes a TimeProvider); _time decides when a token is due.
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _auth.TokenUrl) { Content = new FormUrlEncodedContent(form) };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            var body = await ReadAsync(response.Content, token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new AuthFailureException($"{_where} answered HTTP {(int)response.StatusCode}: {_secrets.Hide(Telemetry.LogText.Escape(_secrets.Hide(body), 200))}");
            return Parse(body) ?? throw new AuthFailureException($"{_where} answered without a token: the body must be a JSON object with a string 'access_token'");
        }
        catch (AuthFailureException)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            // The attempt's time or the client's (both exec_timeout_ms) ran out, or before them the handler's
            // ConnectTimeout (conn_timeout_ms), which it also reports as a cancellation.
            var connecting = !token.IsCancellationRequested && ex.InnerException is TimeoutException && TimeProvider.System.GetElapsedTime(started) < _timeout;
            throw new AuthFailureException(connecting ? _noConnection : _noAnswer, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            var why = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
            throw new AuthFailureException(_secrets.Hide($"{_where} failed: {why}"), ex);
        }
    }

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
