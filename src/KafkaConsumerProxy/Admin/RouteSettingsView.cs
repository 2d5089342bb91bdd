using System.Globalization;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// A route's settings as <c>GET /api/v1/routes/{route}</c> and the dashboard show them: where it delivers and how, never
/// a secret. <c>auth</c> is named by its type only (no token, password, client secret or HMAC key), <c>headers</c> by
/// their names only, and the endpoint URLs (which have no query: the loader refuses one) pass
/// <see cref="SecretRedactor.Hide"/>.
/// </summary>
/// <param name="Endpoint">The request URL of each host, in their order.</param>
/// <param name="Auth"><c>bearer</c>, <c>basic</c>, <c>oauth2_client_credentials</c>, <c>hmac</c>, or null for none.</param>
/// <param name="Mode"><c>message_delivery_guarantees</c>: 1, 2 or 3.</param>
/// <param name="ModeName">What the mode is called in docs/DELIVERY.md.</param>
/// <param name="Delivery">Sync or async with its ordering, format, <c>max_pending</c> and batching, as the start-up log line says.</param>
/// <param name="SkipPolicy">When a failing message is given up on, in words.</param>
/// <param name="DeadLetterTopic">Where skipped messages are written; null when the route has no dead-letter topic.</param>
/// <param name="Retry">The wait between attempts, in words.</param>
/// <param name="Breaker">The circuit breaker's settings, in words.</param>
internal sealed record RouteSettingsView(
    IReadOnlyList<string> Endpoint,
    string ResponseCheck,
    string? Auth,
    IReadOnlyList<string> Headers,
    int Concurrency,
    int Mode,
    string ModeName,
    string Delivery,
    string SkipPolicy,
    string? DeadLetterTopic,
    string Retry,
    string Breaker,
    int ConnTimeoutMs,
    int ExecTimeoutMs,
    string SourceFile)
{
    /// <summary>The view of <paramref name="route"/>.</summary>
    public static RouteSettingsView Of(RouteDefinition route)
    {
        ArgumentNullException.ThrowIfNull(route);
        var endpoint = route.Endpoint;
        var retry = route.Retry;
        var scheme = endpoint.Tls.Enabled ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        var urls = endpoint.Hosts.Select(h => SecretRedactor.Hide(new UriBuilder(scheme, h, endpoint.Port, endpoint.Url).Uri.AbsoluteUri)).ToList();
        var skipOnStatus = retry.SkipOnStatus.Count == 0 ? "" : "; skips at once on HTTP " + string.Join(", ", retry.SkipOnStatus.Order());
        // A route with a retry lane makes one attempt in place and one in each round but the last before retry_nums
        // counts (the last round's attempt is the first of retry_nums + 1).
        var lane = route.RetryLane.Enabled ? route.RetryLane.DelaysMs.Count : 0;
        var laneText = lane == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", after the retry lane's {lane} round(s)");
        var skip = retry.CanSkip
            ? string.Create(CultureInfo.InvariantCulture, $"skips after {(long)retry.RetryNums + 1 + lane} attempt(s) (can_skip: true, retry_nums: {retry.RetryNums}{laneText}){skipOnStatus}")
            : "never skips by itself: retried until delivered or skipped by an operator (can_skip: false)";
        var wait = retry.Backoff == RetryBackoff.Constant
            ? string.Create(CultureInfo.InvariantCulture, $"every {retry.RetryIntervalMs} ms")
            : string.Create(CultureInfo.InvariantCulture, $"exponential from {retry.RetryIntervalMs} ms up to {retry.RetryMaxIntervalMs} ms");
        var breaker = retry.BreakerFailures == 0
            ? "off (breaker_failures: 0)"
            : string.Create(CultureInfo.InvariantCulture, $"opens after {retry.BreakerFailures} failures in a row, a probe every {retry.BreakerProbeIntervalMs} ms");
        var mode = route.Offsets.MessageDeliveryGuarantees;
        return new RouteSettingsView(urls, endpoint.ResponseCheck.ToString().ToLowerInvariant(), AuthName(endpoint.Auth?.Type),
            [.. endpoint.Headers.Select(h => h.Key)], route.Concurrency, (int)mode, NameOf(mode), route.DescribeDelivery(), skip,
            route.DeadLetter.Topic, wait, breaker, endpoint.ConnTimeoutMs, endpoint.ExecTimeoutMs, Path.GetFileName(route.SourceFile));
    }

    private static string NameOf(DeliveryGuarantee mode) => mode switch
    {
        DeliveryGuarantee.BatchedCommit => "batched commit",
        DeliveryGuarantee.NoRepeatOnOneMachine => "no repeat on one machine",
        _ => "at least once",
    };

    private static string? AuthName(AuthType? type) => type switch
    {
        null => null,
        AuthType.OAuth2ClientCredentials => "oauth2_client_credentials",
        _ => type.Value.ToString().ToLowerInvariant(),
    };
}
