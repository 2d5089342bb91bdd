namespace KafkaConsumerProxy.Configuration;

/// <summary>A route's endpoint: where requests go, how long they may take and how answers are judged.</summary>
internal sealed record EndpointSettings
{
    /// <summary>
    /// <c>endpoint</c>: the endpoint as one absolute URL (<c>http://10.0.0.5:8080/consume</c>), or a list of URLs that
    /// differ only in their host; read by <see cref="EndpointUrl"/> into <see cref="Hosts"/>, <see cref="Port"/>,
    /// <see cref="Url"/> and <see cref="TlsSettings.Scheme"/>. A route writes either <c>endpoint</c> or <c>host</c>
    /// (with <c>port</c>, <c>url</c>, <c>scheme</c>), never both; one of them is required.
    /// </summary>
    public static readonly RouteKey EndpointKey = new("endpoint", RouteKeyKind.UrlList) { Description = "The endpoint: an absolute http:// or https:// URL, or a list of URLs that differ only in their host (used round robin). Not together with host, port, url or scheme." };

    /// <summary>The keys that <c>endpoint</c> holds in one value and that a route with <c>endpoint</c> must not write.</summary>
    public static IReadOnlyList<RouteKey> PartsOfEndpoint => [HostKey, PortKey, UrlKey, TlsSettings.SchemeKey];

    /// <summary><c>host</c>: one or more endpoint hosts (the file gives them separated by commas); required unless <c>endpoint</c> is set.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    public static readonly RouteKey HostKey = RouteKey.String("host") with { Description = "Endpoint host(s) separated by ',' (the older form of endpoint; not together with it)." };

    /// <summary><c>port</c>: the endpoint's TCP port; default 80, or 443 with <c>scheme: https</c> (<see cref="EndpointUrl.DefaultPort"/>).</summary>
    public int Port { get; init; } = 80;

    public static readonly RouteKey PortKey = RouteKey.Integer("port", 1, 65535, null) with { Description = "Endpoint port (older form); default 80, or 443 with scheme: https." };

    /// <summary><c>url</c>: the request path, starting with '/'; default <see cref="RouteDefaults.Url"/> (<c>/</c>).</summary>
    public string Url { get; init; } = RouteDefaults.Url;

    public static readonly RouteKey UrlKey = RouteKey.String("url", RouteDefaults.Url) with { Description = "Request path starting with '/' (older form); sent exactly as written." };

    /// <summary><c>domain</c>: value of the Host header; null = the host itself.</summary>
    public string? Domain { get; init; }

    public static readonly RouteKey DomainKey = RouteKey.String("domain") with { Description = "Value of the HTTP Host header; default the host itself." };

    /// <summary><c>conn_timeout_ms</c>: the longest wait for a connection; default <see cref="RouteDefaults.ConnTimeoutMs"/> (3,000).</summary>
    public int ConnTimeoutMs { get; init; } = RouteDefaults.ConnTimeoutMs;

    public static readonly RouteKey ConnTimeoutMsKey = RouteKey.Integer("conn_timeout_ms", 1, int.MaxValue, RouteDefaults.ConnTimeoutMs) with { Description = "Bound on opening a connection, in milliseconds." };

    /// <summary><c>exec_timeout_ms</c>: the longest wait for an answer; default <see cref="RouteDefaults.ExecTimeoutMs"/> (10,000).</summary>
    public int ExecTimeoutMs { get; init; } = RouteDefaults.ExecTimeoutMs;

    public static readonly RouteKey ExecTimeoutMsKey = RouteKey.Integer("exec_timeout_ms", 1, int.MaxValue, RouteDefaults.ExecTimeoutMs) with { Description = "Bound on a whole request, connecting included, in milliseconds." };

    /// <summary><c>slow_time_ms</c>: a delivery slower than this is logged; null = never.</summary>
    public int? SlowTimeMs { get; init; }

    public static readonly RouteKey SlowTimeMsKey = RouteKey.Integer("slow_time_ms", 1, int.MaxValue, null) with { Description = "A successful delivery slower than this many milliseconds is logged as slow; default never." };

    /// <summary><c>response_check</c>: default <see cref="RouteDefaults.ResponseCheck"/>.</summary>
    public ResponseCheck ResponseCheck { get; init; } = RouteDefaults.ResponseCheck;

    public static readonly RouteKey ResponseCheckKey = RouteKey.Choice("response_check", RouteDefaults.ResponseCheck) with { Description = "How an answer is judged: errno = a 2xx whose body is a JSON object with errno absent or 0; status = any 2xx; expression = response_expression is true." };

    /// <summary>
    /// <c>response_expression</c>: the CEL expression that is true when an answer means success; required with
    /// <c>response_check: expression</c> and allowed only with it; null otherwise. Compiled when the route is loaded.
    /// </summary>
    public ResponseExpression? ResponseExpression { get; init; }

    public static readonly RouteKey ResponseExpressionKey = RouteKey.String("response_expression") with { Description = "With response_check: expression (and only with it), a CEL expression over status, headers, body and body_text that is true when the answer means success." };

    /// <summary><c>scheme</c> and the <c>tls_*</c> keys.</summary>
    public TlsSettings Tls { get; init; } = new();

    /// <summary><c>auth</c>: how requests authenticate; null = not at all.</summary>
    public AuthSettings? Auth { get; init; }

    public static readonly RouteKey AuthKey = RouteKey.Mapping("auth", "a mapping with a 'type' (bearer, basic, oauth2_client_credentials or hmac) and its keys") with { Description = "How requests authenticate: a type (bearer, basic, oauth2_client_credentials or hmac) and its keys." };

    /// <summary><c>headers</c>: static extra request headers, in file order; default none.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public static readonly RouteKey HeadersKey = RouteKey.Mapping("headers", "a mapping of header names to values") with { Description = "Static extra request headers: name to value." };

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
