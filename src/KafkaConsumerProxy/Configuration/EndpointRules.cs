using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The rules for the route values that end up in a request: <c>host</c> (the URL's host), <c>url</c> (the request
/// line's path) and <c>domain</c> (the Host header). Each value is first checked for the mistakes people make, with
/// a message saying what to write instead; then the request URLs and the Host header are made by the functions the
/// request builder uses (<see cref="EndpointSettings.Targets"/>, <see cref="EndpointSettings.NewRequest"/>) and must
/// come out exactly as written, so that the validator and the request builder cannot drift apart.
/// </summary>
internal static class EndpointRules
{
    private const int MaxHostNameLength = 253;
    private const int MaxLabelLength = 63;

    /// <summary>Why one entry of <c>host</c> cannot be used, or null. Empty entries, spaces and schemes are checked before.</summary>
    public static string? HostEntryProblem(string entry)
    {
        if (entry.Contains('@', StringComparison.Ordinal))
            return $"'{entry}' holds user information ('user:password@'); write the bare host: a host entry cannot carry credentials";
        if (entry.IndexOfAny(['/', '?', '#', '\\']) >= 0)
            return $"'{entry}' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'";
        if (SplitPort(entry) is { } split)
            return $"'{entry}' includes a port; write the host alone here and the port in the key 'port' (host: {split.Host}, port: {split.Port})";
        return HostProblem(entry, $"'{entry}'");
    }

    /// <summary>Why <c>url</c> cannot be the request path as written, or null. The leading '/' is checked before.</summary>
    public static string? UrlProblem(string url)
    {
        if (url.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return "must not contain spaces or control characters; write them percent-encoded (a space is %20)";
        if (url.IndexOfAny(['?', '#']) >= 0)
            return "must be a path without query ('?') or fragment ('#'): the path is sent as written and '?' or '#' would be percent-encoded into it";
        if (url.FirstOrDefault(c => c > '\x7e') is var nonAscii and not '\0')
            return $"must be ASCII; write '{nonAscii}' percent-encoded as its UTF-8 bytes (é is %C3%A9)";
        if (url.FirstOrDefault(c => "\"<>\\^`{|}".Contains(c, StringComparison.Ordinal)) is var unsafeChar and not '\0')
            return $"must hold only characters allowed in a URL path; write '{unsafeChar}' percent-encoded as %{(int)unsafeChar:X2}";
        for (var i = url.IndexOf('%', StringComparison.Ordinal); i >= 0; i = url.IndexOf('%', i + 1))
        {
            if (i + 2 >= url.Length || !Uri.IsHexDigit(url[i + 1]) || !Uri.IsHexDigit(url[i + 2]))
                return "has a '%' that does not start a percent-encoded byte (%XX); write a literal '%' as %25";
        }

        return null;
    }

    /// <summary>Why <c>domain</c> cannot be the Host header, or null.</summary>
    public static string? DomainProblem(string domain)
    {
        const string Expected = "must be a host name or IP address with an optional port, e.g. orders.internal or orders.internal:8080, without spaces or control characters: it is sent as the Host header";
        // ASCII only: the HTTP client refuses other characters in a header when it sends the request, not before.
        if (domain.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c > '\x7e') || domain.IndexOfAny(['@', '/', '?', '#', '\\', ',']) >= 0)
            return Expected;

        var host = domain;
        var colon = domain.LastIndexOf(':');
        if (colon >= 0 && colon > domain.LastIndexOf(']'))
        {
            if (!int.TryParse(domain.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                return Expected;
            host = domain[..colon];
        }

        return HostProblem(host, $"'{host}'") is null ? null : Expected;
    }

    /// <summary>
    /// Why <c>bootstrap_servers</c> is not a list of <c>host:port</c> entries as librdkafka reads them (an optional
    /// <c>protocol://</c> prefix, the port 9092 when omitted), or null. librdkafka itself only logs a bad entry
    /// when it tries to connect, so this is checked here.
    /// </summary>
    public static string? BootstrapProblem(string servers)
    {
        // librdkafka separates entries by ',' or ' ' and skips empty ones.
        foreach (var raw in servers.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            var entry = raw;
            var scheme = entry.IndexOf("://", StringComparison.Ordinal);
            if (scheme >= 0 && entry[..scheme].ToUpperInvariant() is "PLAINTEXT" or "SSL" or "SASL_PLAINTEXT" or "SASL_SSL")
                entry = entry[(scheme + 3)..];

            var host = entry;
            var colon = entry.LastIndexOf(':');
            if (colon >= 0 && colon > entry.LastIndexOf(']'))
            {
                host = entry[..colon];
                if (!int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                    host = "";
            }

            if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || HostProblem(host, "") is not null)
                return $"must be host:port entries separated by ',', e.g. 10.0.0.1:9092,kafka-2.internal:9092 (an IPv6 address in brackets, [::1]:9092); '{raw}' is not one";
        }

        return null;
    }

    /// <summary>
    /// Makes the route's request URLs and Host header as they will be sent (<see cref="EndpointSettings.Targets"/>,
    /// <see cref="EndpointSettings.NewRequest"/>) and reports every value that would not be sent as written: key and
    /// message per problem. Call only when host, port, url and domain passed their own checks.
    /// </summary>
    public static IEnumerable<(string Key, string Message)> CheckAsSent(RouteDefinition route)
    {
        Uri[] targets;
        try
        {
            targets = route.Endpoint.Targets();
        }
        catch (UriFormatException e)
        {
            return [("host", $"cannot be made into a request URL with port and url: {e.Message}")];
        }

        var problems = new List<(string Key, string Message)>();
        for (var slot = 0; slot < route.Endpoint.Hosts.Count; slot++)
        {
            var target = targets[slot];
            var host = route.Endpoint.Hosts[slot];
            var bare = host.StartsWith('[') ? host : (host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host);
            if (!string.Equals(target.Host, bare, StringComparison.OrdinalIgnoreCase) || target.Port != route.Endpoint.Port)
                problems.Add(("host", $"'{host}' would be sent to {target.Authority}, not to {host} port {route.Endpoint.Port}"));
            if (target.PathAndQuery != route.Endpoint.Url && !problems.Exists(p => p.Key == "url"))
                problems.Add(("url", $"would be sent as '{target.PathAndQuery}'; write the path in the form it is sent ('.' and '..' segments are removed, other characters percent-encoded)"));
        }

        if (route.Endpoint.Domain is not null && problems.Count == 0)
        {
            try
            {
                using var probe = route.Endpoint.NewRequest(targets[0]);
            }
            catch (FormatException e)
            {
                problems.Add(("domain", $"cannot be sent as the Host header: {e.Message}"));
            }
        }

        return problems;
    }

    // Why a bare host (no port) is not an IPv4 address, a bracketed IPv6 address or a DNS name, or null.
    private static string? HostProblem(string host, string quoted)
    {
        if (host.StartsWith('['))
        {
            return host.EndsWith(']') && IPAddress.TryParse(host.AsSpan(1, host.Length - 2), out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? null
                : $"{quoted} is not a valid IPv6 address in brackets, e.g. [::1]";
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6
                ? $"{quoted} is an IPv6 address; write it in brackets: [{host}]"
                : $"{quoted} is not a host name or IP address";
        }

        if (host.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            var parts = host.Split('.');
            return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && int.Parse(p, CultureInfo.InvariantCulture) <= 255)
                ? null
                : $"{quoted} is not a valid IPv4 address (four numbers from 0 to 255 separated by '.')";
        }

        string ascii;
        try
        {
            // An internationalised name is sent in its ASCII form (xn--...); the rule applies to that form.
            ascii = new IdnMapping().GetAscii(host.EndsWith('.') ? host[..^1] : host);
        }
        catch (ArgumentException)
        {
            ascii = "";
        }

        var labels = ascii.Split('.');
        var valid = ascii.Length is > 0 and <= MaxHostNameLength && labels.All(l =>
            l.Length is > 0 and <= MaxLabelLength && l[0] != '-' && l[^1] != '-' && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
        return valid ? null : $"{quoted} is not a valid host name: labels of 1 to 63 letters, digits, '-' or '_' separated by '.', at most 253 characters";
    }

    // "127.0.0.1:9999" or "[::1]:9999" as host and port; null when there is no port.
    private static (string Host, string Port)? SplitPort(string entry)
    {
        var colon = entry.LastIndexOf(':');
        if (colon <= 0 || colon == entry.Length - 1 || !entry[(colon + 1)..].All(char.IsAsciiDigit))
            return null;
        var host = entry[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            return (host, entry[(colon + 1)..]);
        // "::1" is an IPv6 address, not host ":" with port 1.
        return host.Contains(':', StringComparison.Ordinal) ? null : (host, entry[(colon + 1)..]);
    }
}
