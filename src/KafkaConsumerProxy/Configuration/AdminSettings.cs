using System.Net;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The <c>admin</c> section of kcp.yaml: where the admin endpoint (metrics, health, status and actions API, dashboard)
/// listens, and the bearer token that protects it. The token is kept out of <see cref="ToString"/> so that it can never
/// reach a log line or a response by way of the configuration.
/// </summary>
internal sealed class AdminSettings
{
    /// <summary>The default <c>listen</c>: loopback only, the port Prometheus exporters of this kind commonly use.</summary>
    public const string DefaultListen = "127.0.0.1:9464";

    private readonly string? _token;

    public AdminSettings(IPEndPoint? listen, string? tokenFile, string? token, IReadOnlyList<string>? allowedHosts = null)
    {
        Listen = listen;
        TokenFile = tokenFile;
        _token = token;
        AllowedHosts = allowedHosts ?? [];
    }

    /// <summary>The default section: listen on 127.0.0.1:9464 without a token.</summary>
    public static AdminSettings Default { get; } = new(IPEndPoint.Parse(DefaultListen), null, null);

    /// <summary>Where to listen; null when <c>listen: off</c>.</summary>
    public IPEndPoint? Listen { get; }

    /// <summary>Absolute path of <c>token_file</c>, or null.</summary>
    public string? TokenFile { get; }

    /// <summary>
    /// Host names, besides the listen address and <c>localhost</c>, that requests may name in <c>Host</c> and
    /// <c>Origin</c> (<c>allowed_hosts</c>, lower case; default none): the names a reverse proxy or a DNS entry gives the
    /// endpoint. Any other name is refused, so a web page whose name was made to resolve to this address (DNS
    /// rebinding) cannot read or drive it.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; }

    /// <summary>True when requests must carry <c>Authorization: Bearer</c> with the token.</summary>
    public bool HasToken => _token is not null;

    /// <summary>The token read from <see cref="TokenFile"/> (trimmed); only the admin endpoint's check reads it.</summary>
    internal string? Token => _token;

    /// <summary>The same listen address, token file, token and allowed hosts (a changed token needs a restart too).</summary>
    public bool SameAs(AdminSettings other) =>
        Equals(Listen, other.Listen) && TokenFile == other.TokenFile && AllowedHosts.SequenceEqual(other.AllowedHosts, StringComparer.Ordinal) && string.Equals(_token, other._token, StringComparison.Ordinal);

    public override string ToString() => Listen is null ? "admin off" : $"admin {Listen}" + (TokenFile is null ? "" : $" (token from {TokenFile})");
}
