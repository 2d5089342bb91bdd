namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's endpoint: where requests go, how long they may take and how answers are judged.</summary>
internal sealed record EndpointSettings
{
    /// <summary><c>host</c>: one or more endpoint hosts (the file gives them separated by commas).</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    public static readonly RouteKey HostKey = RouteKey.RequiredString("host");

    /// <summary><c>port</c>: the endpoint's TCP port (required).</summary>
    public int Port { get; init; }

    public static readonly RouteKey PortKey = RouteKey.RequiredInteger("port", 1, 65535);

    /// <summary><c>url</c>: the request path, starting with '/'.</summary>
    public string Url { get; init; } = "/";

    public static readonly RouteKey UrlKey = RouteKey.RequiredString("url");

    /// <summary><c>domain</c>: value of the Host header; null = the host itself.</summary>
    public string? Domain { get; init; }

    public static readonly RouteKey DomainKey = RouteKey.String("domain");

    /// <summary><c>conn_timeout_ms</c>: the longest wait for a connection (required).</summary>
    public int ConnTimeoutMs { get; init; }

    public static readonly RouteKey ConnTimeoutMsKey = RouteKey.RequiredInteger("conn_timeout_ms", 1, int.MaxValue);

    /// <summary><c>exec_timeout_ms</c>: the longest wait for an answer (required).</summary>
    public int ExecTimeoutMs { get; init; }

    public static readonly RouteKey ExecTimeoutMsKey = RouteKey.RequiredInteger("exec_timeout_ms", 1, int.MaxValue);

    /// <summary><c>slow_time_ms</c>: a delivery slower than this is logged; null = never.</summary>
    public int? SlowTimeMs { get; init; }

    public static readonly RouteKey SlowTimeMsKey = RouteKey.Integer("slow_time_ms", 1, int.MaxValue, null);

    /// <summary><c>response_check</c>: default <see cref="RouteDefaults.ResponseCheck"/>.</summary>
    public ResponseCheck ResponseCheck { get; init; } = RouteDefaults.ResponseCheck;

    public static readonly RouteKey ResponseCheckKey = RouteKey.Choice("response_check", RouteDefaults.ResponseCheck);

    /// <summary><c>scheme</c> and the <c>tls_*</c> keys.</summary>
    public TlsSettings Tls { get; init; } = new();

    /// <summary><c>auth</c>: how requests authenticate; null = not at all.</summary>
    public AuthSettings? Auth { get; init; }

    public static readonly RouteKey AuthKey = RouteKey.Mapping("auth", "a mapping with a 'type' (bearer, basic, oauth2_client_credentials or hmac) and its keys");

    /// <summary><c>headers</c>: static extra request headers, in file order; default none.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public static readonly RouteKey HeadersKey = RouteKey.Mapping("headers", "a mapping of header names to values");

    /// <summary>
    /// The request URL of each of <see cref="Hosts"/>, in their order: <c>http://{host}:{port}{url}</c>. The deliverer
    /// sends to these (<c>Delivery/HostSelector</c>) and the loader checks that each comes out as written
    /// (<see cref="EndpointRules.CheckAsSent"/>): one function, so the two cannot disagree.
    /// </summary>
    /// <exception cref="UriFormatException">A host, port and url that make no URL.</exception>
    public Uri[] Targets() => [.. Hosts.Select(h => new UriBuilder(Uri.UriSchemeHttp, h, Port, Url).Uri)];

    /// <summary>
    /// The POST every request of the route starts as: to <paramref name="target"/>, with the Host header
    /// <see cref="Domain"/> when it is set. The request builder (<c>Delivery/RequestBuilder</c>) adds the content and
    /// headers; the loader makes one to check <see cref="Domain"/> (<see cref="EndpointRules.CheckAsSent"/>).
    /// </summary>
    /// <exception cref="FormatException"><see cref="Domain"/> cannot be a Host header.</exception>
    public HttpRequestMessage NewRequest(Uri target)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, target);
        if (Domain is not null)
        {
            try
            {
                request.Headers.Host = Domain;
            }
            catch (FormatException)
            {
                request.Dispose();
                throw;
            }
        }

        return request;
    }
}
