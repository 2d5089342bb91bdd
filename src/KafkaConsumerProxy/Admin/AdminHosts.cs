using System.Net;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The names a request may give the admin endpoint in <c>Host</c> and <c>Origin</c>: the address it listens on (any IP
/// address when it listens on all of them), <c>localhost</c>, and <c>admin.allowed_hosts</c>. A browser sends the name
/// of the page it shows; a page of another site whose name was made to resolve to this address (DNS rebinding) names
/// that site, so it is refused, and so are its cross-origin requests.
/// </summary>
internal sealed class AdminHosts
{
    private readonly IPAddress _listen;
    private readonly HashSet<string> _names;

    public AdminHosts(IPAddress listen, IReadOnlyList<string> allowed)
    {
        _listen = listen;
        _names = new HashSet<string>(allowed, StringComparer.OrdinalIgnoreCase) { "localhost" };
    }

    /// <summary>What the listen address, localhost and the allowed hosts are, for a refusal's reason.</summary>
    public string Described =>
        (_listen.Equals(IPAddress.Any) || _listen.Equals(IPAddress.IPv6Any) ? "an IP address of this machine" : Literal(_listen))
        + ", " + string.Join(", ", _names.Order(StringComparer.Ordinal));

    /// <summary>True when <paramref name="host"/> (a Host header's name part, brackets allowed) names this endpoint.</summary>
    public bool Allows(string host)
    {
        var name = host.TrimEnd('.');
        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            name = name[1..^1];
        }

        if (IsAddress(name, out var ip))
        {
            // An IP address cannot be rebound: the browser reached the address it names.
            return _listen.Equals(IPAddress.Any) || _listen.Equals(IPAddress.IPv6Any) || ip.Equals(_listen)
                || (ip.IsIPv4MappedToIPv6 && ip.MapToIPv4().Equals(_listen)) || _names.Contains(ip.ToString());
        }

        return _names.Contains(name);
    }

    /// <summary>
    /// Null when <paramref name="origin"/> (an Origin header) names this endpoint: an http(s) origin whose host
    /// <see cref="Allows"/> and whose port is the one the request's Host names (any, when Host names none: a proxy's
    /// default port). Else the reason for the refusal.
    /// </summary>
    public string? OriginProblem(string origin, HostString requestHost)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
        {
            return "is not an http origin of this endpoint";
        }

        if (!Allows(uri.Host))
        {
            return $"does not name this endpoint (allowed: {Described})";
        }

        return requestHost.Port is { } port && port != uri.Port ? "names another port than the request" : null;
    }

    /// <summary>True when <paramref name="name"/> is an IP address as written in a URL (dotted quad, or IPv6).</summary>
    public static bool IsAddress(string name, out IPAddress ip) =>
        IPAddress.TryParse(name, out ip!) && (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || name.Count(c => c == '.') == 3);

    private static string Literal(IPAddress ip) => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
}
