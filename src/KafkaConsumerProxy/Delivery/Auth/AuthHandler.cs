using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery.Auth;

/// <summary>
/// Adds a route's static <c>headers</c> and its <c>auth</c> to every request, between <see cref="HttpDeliverer"/> and
/// the socket handler: a bearer or basic <c>Authorization</c>, an OAuth2 token (a 401 answer fetches a new token and
/// sends the request once more), or the Standard Webhooks signature headers over the exact body bytes sent.
/// </summary>
internal sealed class AuthHandler : DelegatingHandler
{
    private readonly EndpointSettings _endpoint;
    private readonly TimeProvider _time;
    private readonly AuthenticationHeaderValue? _fixed;
    private readonly OAuth2TokenSource? _oauth;
    private readonly byte[]? _hmacKey;

    /// <param name="secrets">The route's redactor: every OAuth2 token fetched is added to it.</param>
    public AuthHandler(EndpointSettings endpoint, TimeProvider time, HttpMessageHandler inner, RouteRedactor secrets)
        : base(inner)
    {
        _endpoint = endpoint;
        _time = time;
        var auth = endpoint.Auth;
        switch (auth?.Type)
        {
            case AuthType.Bearer:
                _fixed = new AuthenticationHeaderValue("Bearer", auth.Token);
                break;
            case AuthType.Basic:
                _fixed = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{auth.Username}:{auth.Password}")));
                break;
            case AuthType.OAuth2ClientCredentials:
                _oauth = new OAuth2TokenSource(auth, TimeSpan.FromMilliseconds(endpoint.ConnTimeoutMs), TimeSpan.FromMilliseconds(endpoint.ExecTimeoutMs), time, secrets);
                break;
            case AuthType.Hmac:
                _hmacKey = HmacSecret.Key(auth.Secret!);
                break;
        }
    }

    /// <summary>True when a route needs this handler at all.</summary>
    public static bool Needed(EndpointSettings endpoint) => endpoint.Auth is not null || endpoint.Headers.Count > 0;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        foreach (var (name, value) in _endpoint.Headers)
            request.Headers.TryAddWithoutValidation(name, value);
        if (_fixed is not null)
            request.Headers.Authorization = _fixed;
        if (_hmacKey is not null)
            await SignAsync(request, cancellationToken).ConfigureAwait(false);
        if (_oauth is null)
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);

        var token = await _oauth.TokenAsync(null, cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
            return response;

        // Refused: the token may have been revoked or rotated early. One new token and one more try, within the same
        // attempt; a second 401 is the attempt's answer.
        response.Dispose();
        token = await _oauth.TokenAsync(token, cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _oauth?.Dispose();
        base.Dispose(disposing);
    }

    // webhook-id is the request's Idempotency-Key (topic/partition/offset, or the offsets of a batch), the same on every
    // retry as Standard Webhooks asks; the timestamp is of this attempt.
    private async Task SignAsync(HttpRequestMessage request, CancellationToken token)
    {
        var id = request.Headers.TryGetValues("Idempotency-Key", out var values) ? values.First() : Guid.NewGuid().ToString("N");
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
        request.Headers.Remove(WebhookSignature.IdHeader);
        request.Headers.Remove(WebhookSignature.TimestampHeader);
        request.Headers.Remove(WebhookSignature.SignatureHeader);
        request.Headers.TryAddWithoutValidation(WebhookSignature.IdHeader, id);
        request.Headers.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Sign(_hmacKey!, id, timestamp, body));
    }
}
