using System.Net;
using System.Net.Sockets;

namespace KafkaConsumerProxy.Configuration;

/// <summary>Reads the <c>admin</c> section of the main config file, and the token file it names.</summary>
internal static class AdminSectionReader
{
    // A token shorter than this is guessable by a client that may try as often as it likes.
    private const int MinTokenLength = 16;
    private const int MaxTokenFileBytes = 4096;

    /// <summary>
    /// The <c>admin</c> section: <c>listen</c> (<c>host:port</c> with an IP address, or <c>off</c>; default
    /// <see cref="AdminSettings.DefaultListen"/>), <c>token_file</c> (relative to the config file) and <c>allowed_hosts</c>
    /// (host names without port). A <c>listen</c> that is not loopback needs <c>token_file</c>. Null when the section has
    /// an error.
    /// </summary>
    public static AdminSettings? Read(MapReader main, List<ConfigError> errors, string baseDir)
    {
        var before = errors.Count;
        var node = main.Mapping(MainFileKeys.Admin);
        if (errors.Count != before)
            return null;
        if (node is null)
            return AdminSettings.Default;

        var reader = new MapReader(main.File, node, errors, "admin.");
        var listenText = reader.String(MainFileKeys.Of(MainFileKeys.AdminKeys, "listen"));
        var tokenFileText = reader.String(MainFileKeys.Of(MainFileKeys.AdminKeys, "token_file"));
        var allowedHosts = reader.StringList(MainFileKeys.Of(MainFileKeys.AdminKeys, "allowed_hosts"));
        reader.ReportUnknownKeys();
        if (errors.Count != before)
            return null;

        var hosts = new List<string>();
        foreach (var host in allowedHosts ?? [])
        {
            if (AdminHostName(host) is not { } name)
            {
                reader.Error("allowed_hosts", host, "each entry must be a host name or IP address without scheme, port or path, such as kcp.example.internal");
                return null;
            }

            hosts.Add(name);
        }

        IPEndPoint? listen = null;
        if (listenText is null)
        {
            listen = IPEndPoint.Parse(AdminSettings.DefaultListen);
        }
        else if (!listenText.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            if (!IPEndPoint.TryParse(listenText, out listen) || listen.Port is < 0 or > 65535 || !listenText.Contains(':', StringComparison.Ordinal)
                || listen.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                reader.Error("listen", listenText, "must be an IP address and port such as 127.0.0.1:9464 or [::1]:9464 (port 0: any free port), or off");
                return null;
            }
        }

        string? tokenFile = null;
        string? token = null;
        if (tokenFileText is not null)
        {
            tokenFile = Path.GetFullPath(Path.Combine(baseDir, tokenFileText));
            token = ReadToken(tokenFile, out var problem);
            if (problem is not null)
            {
                // Never the file's content: only its path is shown.
                reader.Error("token_file", tokenFileText, problem);
                return null;
            }
        }

        if (listen is not null && token is null && !IPAddress.IsLoopback(listen.Address))
        {
            reader.Error("listen", listenText, $"listens on {listen.Address}, which is not a loopback address; anyone who reaches it could skip messages and stop routes, so set admin.token_file too (or listen on 127.0.0.1)");
            return null;
        }

        return new AdminSettings(listen, tokenFile, token, hosts);
    }

    /// <summary><paramref name="text"/> as a host name or IP address in lower case, or null when it is neither.</summary>
    private static string? AdminHostName(string text)
    {
        var name = text.Trim().TrimEnd('.').ToLowerInvariant();
        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            name = name[1..^1];
        }

        if (IPAddress.TryParse(name, out var ip) && (ip.AddressFamily == AddressFamily.InterNetworkV6 || name.Count(c => c == '.') == 3))
        {
            return ip.ToString();
        }

        return name.Length is > 0 and <= 253 && Uri.CheckHostName(name) == UriHostNameType.Dns ? name : null;
    }

    private static string? ReadToken(string path, out string? problem)
    {
        problem = null;
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            problem = $"token file not found: {path}";
            return null;
        }

        // Read as config files are: a FIFO or a device fails here with the reason instead of hanging the start.
        var errors = new List<ConfigError>();
        var text = ConfigFile.ReadText(path, errors, "a token file");
        if (text is null)
        {
            problem = $"token file {path} {(errors.Count > 0 ? errors[0].Message : "cannot be read")}";
            return null;
        }

        if (text.Length > MaxTokenFileBytes)
        {
            problem = $"token file {path} is {text.Length} bytes; a token file holds one token of at most {MaxTokenFileBytes} bytes";
            return null;
        }

        var token = text.Trim();
        if (token.Length < MinTokenLength || token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            problem = $"token file {path} must hold one token of at least {MinTokenLength} characters without spaces";
            return null;
        }

        return token;
    }
}
