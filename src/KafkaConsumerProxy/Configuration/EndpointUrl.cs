using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The <c>endpoint</c> key read into what <c>scheme</c>, <c>host</c>, <c>port</c> and <c>url</c> hold: one absolute
/// <c>http://</c> or <c>https://</c> URL, or a list of URLs that differ only in their host (several hosts are used round
/// robin, as with <c>host: a,b</c>). A URL without a port takes the scheme's (80, 443); one without a path, <c>/</c>.
/// Each part is then checked with the rule its own key has (<see cref="EndpointRules.HostEntryProblem"/>,
/// <see cref="EndpointRules.UrlProblem"/>), so both forms accept the same endpoints.
/// </summary>
internal sealed record EndpointUrl(EndpointScheme Scheme, IReadOnlyList<string> Hosts, int Port, string Path)
{
    /// <summary>The port of <paramref name="scheme"/> when a URL or a route names none: 80 for http, 443 for https.</summary>
    public static int DefaultPort(EndpointScheme scheme) => scheme == EndpointScheme.Https ? 443 : 80;

    /// <summary>
    /// The endpoint of <paramref name="urls"/>, or null with the URL at fault and why (the text after "must be" or a
    /// sentence of its own).
    /// </summary>
    public static (EndpointUrl? Endpoint, string? BadUrl, string? Problem) Parse(IReadOnlyList<string> urls)
    {
        EndpointUrl? first = null;
        var hosts = new List<string>();
        foreach (var text in urls)
        {
            var (url, problem) = ParseOne(text);
            if (url is null)
                return (null, text, problem);
            if (first is not null && (url.Scheme != first.Scheme || url.Port != first.Port || url.Path != first.Path))
            {
                return (null, text, string.Create(CultureInfo.InvariantCulture,
                    $"must have the same scheme, port and path as the first URL of the list ({Spelled(first.Scheme)}, port {first.Port}, path {first.Path}): the URLs of one endpoint differ only in their host"));
            }

            first ??= url;
            hosts.Add(url.Hosts[0]);
        }

        return first is null
            ? (null, null, "must be an absolute http:// or https:// URL, or a non-empty list of them")
            : (first with { Hosts = hosts }, null, null);
    }

    private static (EndpointUrl? Url, string? Problem) ParseOne(string text)
    {
        const string Expected = "must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume";
        var separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
            return (null, Expected);
        var schemeText = text[..separator];
        EndpointScheme scheme;
        if (schemeText.Equals("http", StringComparison.OrdinalIgnoreCase))
            scheme = EndpointScheme.Http;
        else if (schemeText.Equals("https", StringComparison.OrdinalIgnoreCase))
            scheme = EndpointScheme.Https;
        else
            return (null, $"{Expected}; '{schemeText}' is not http or https");

        var rest = text[(separator + 3)..];
        var pathStart = rest.IndexOfAny(['/', '?', '#']);
        var authority = pathStart < 0 ? rest : rest[..pathStart];
        var path = pathStart < 0 ? "/" : rest[pathStart..];
        if (authority.Contains('@', StringComparison.Ordinal))
            return (null, "must not hold user information ('user:password@'); use auth for credentials");
        if (authority.Length == 0)
            return (null, $"{Expected}; it has no host");

        var (host, portText) = SplitAuthority(authority);
        var port = DefaultPort(scheme);
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
            return (null, $"has port '{portText}'; a port must be an integer from 1 to 65535");
        if (host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return (null, "must not contain spaces or control characters in its host");
        if (EndpointRules.HostEntryProblem(host) is { } hostProblem)
            return (null, hostProblem);
        if (path[0] != '/' || EndpointRules.UrlProblem(path) is not null)
            return (null, $"has the path '{path}', which {EndpointRules.UrlProblem(path) ?? "must start with '/'"}");
        return (new EndpointUrl(scheme, [host], port, path), null);
    }

    // "host:port", "[v6]:port", "host", "[v6]" → host as a host entry writes it, and the port text if any.
    private static (string Host, string? Port) SplitAuthority(string authority)
    {
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close > 0 && close + 1 < authority.Length && authority[close + 1] == ':')
                return (authority[..(close + 1)], authority[(close + 2)..]);
            return (authority, null);
        }

        var colon = authority.LastIndexOf(':');
        return colon < 0 ? (authority, null) : (authority[..colon], authority[(colon + 1)..]);
    }

#pragma warning disable CA1308 // Schemes are written in lower case; this is a spelling, not a comparison.
    private static string Spelled(EndpointScheme scheme) => scheme.ToString().ToLowerInvariant();
#pragma warning restore CA1308
}
