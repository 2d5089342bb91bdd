using System.Globalization;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// What a range replay (<c>kcp replay</c>, <c>POST /api/v1/routes/{route}/replays</c>) reads from the route's topic and
/// where it sends it. Offsets are inclusive at both ends; a time range is checked on every message's own timestamp.
/// </summary>
internal sealed record ReplayRequest
{
    /// <summary>The partitions to replay; empty = every partition of the topic.</summary>
    public IReadOnlyList<int> Partitions { get; init; } = [];

    /// <summary>The first offset replayed (each chosen partition); one of this and <see cref="FromTime"/> is required.</summary>
    public long? FromOffset { get; init; }

    /// <summary>Only messages at or after this time; the start is the broker's offset for it (its time index).</summary>
    public DateTimeOffset? FromTime { get; init; }

    /// <summary>The last offset replayed; null with no <see cref="ToTime"/> = up to the end as it is when the replay starts.</summary>
    public long? ToOffset { get; init; }

    /// <summary>Only messages at or before this time.</summary>
    public DateTimeOffset? ToTime { get; init; }

    /// <summary>Where to send (<c>http://</c> or <c>https://</c>, with the route's auth, TLS files and signing); null = the route's endpoint.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>At most this many requests per second; null = the route's <c>max_requests_per_second</c>, if any.</summary>
    public int? Rate { get; init; }

    /// <summary>Plan and count the messages; deliver none.</summary>
    public bool DryRun { get; init; }

    /// <summary>Every reason this request cannot run, one sentence each naming the fields as the CLI calls them; empty when it can.</summary>
    public List<string> Problems() => Problems(name => "--" + name);

    /// <summary>As <see cref="Problems()"/>, each field called by <paramref name="name"/> (given the CLI's name without <c>--</c>).</summary>
    public List<string> Problems(Func<string, string> name)
    {
        var problems = new List<string>();
        if ((FromOffset is null) == (FromTime is null))
        {
            problems.Add($"give exactly one of {name("from-offset")} and {name("from-time")}");
        }

        if (ToOffset is not null && ToTime is not null)
        {
            problems.Add($"give at most one of {name("to-offset")} and {name("to-time")}");
        }

        if (FromOffset < 0 || ToOffset < 0)
        {
            problems.Add("offsets are at least 0");
        }

        if (FromOffset is { } from && ToOffset is { } to && from > to)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name("from-offset")} {from} is after {name("to-offset")} {to}; nothing would be replayed"));
        }

        if (FromTime is { } start && ToTime is { } end && start > end)
        {
            problems.Add($"{name("from-time")} {start:O} is after {name("to-time")} {end:O}; nothing would be replayed");
        }

        if (Partitions.Any(p => p < 0))
        {
            problems.Add("partitions are at least 0");
        }

        if (Rate is < 1 or > RouteDefaults.MaxRequestsPerSecondLimit)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name("rate")} {Rate} is not from 1 to {RouteDefaults.MaxRequestsPerSecondLimit}"));
        }

        if (Endpoint is { } url && !IsEndpoint(url))
        {
            problems.Add($"{name("endpoint")} '{url}' is not an http:// or https:// URL with a host (and no user or fragment)");
        }

        return problems;
    }

    /// <summary>Whether <paramref name="url"/> can be a replay's endpoint: absolute http or https, a host, no user info or fragment.</summary>
    public static bool IsEndpoint(Uri url) =>
        url.IsAbsoluteUri && url.Scheme is "http" or "https" && url.Host.Length > 0 && url.UserInfo.Length == 0 && url.Fragment.Length == 0;

    /// <summary>
    /// The route as the replay sends with it: its format, auth, signing, TLS files, headers, timeouts and response
    /// rules, to <see cref="Endpoint"/> when given (its scheme, host, port and path; Host header and TLS server name
    /// from the URL). A message still failing after <c>retry_nums</c> retries is given up on (reported as failed, never
    /// written to the dead-letter topic: it is still in its topic), so a replay never blocks forever; the route's own
    /// rate is replaced by <see cref="Rate"/> when given, and the shared budgets and adaptive limit are the live route's.
    /// </summary>
    public RouteDefinition Apply(RouteDefinition route)
    {
        var endpoint = route.Endpoint;
        if (Endpoint is { } url)
        {
            endpoint = endpoint with
            {
                Hosts = [url.Host],
                Port = url.Port,
                Url = url.PathAndQuery,
                Domain = null,
                Tls = endpoint.Tls with { Scheme = url.Scheme == "https" ? EndpointScheme.Https : EndpointScheme.Http, ServerName = null },
            };
        }

        return route with
        {
            Endpoint = endpoint,
            Retry = route.Retry with { CanSkip = true },
            DeadLetter = new DeadLetterSettings(),
            Delivery = route.Delivery with { MaxRequestsPerSecond = Rate ?? route.Delivery.MaxRequestsPerSecond, AdaptiveConcurrency = false, Limit = null },
        };
    }
}
