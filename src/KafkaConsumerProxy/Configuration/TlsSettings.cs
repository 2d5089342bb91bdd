namespace KafkaConsumerProxy.Configuration;

/// <summary>How a route reaches its endpoint (<c>scheme</c>).</summary>
internal enum EndpointScheme
{
    /// <summary><c>http</c> (default): plain HTTP.</summary>
    Http,

    /// <summary><c>https</c>: HTTP over TLS, verified as <see cref="TlsSettings"/> says.</summary>
    Https,
}

/// <summary>
/// The TLS keys of a route's endpoint. Every file is read again when it changes on disk (size or modification time),
/// so certificates and keys can be rotated without a restart; a pooled connection keeps the certificate it was opened with.
/// </summary>
internal sealed record TlsSettings
{
    /// <summary><c>scheme</c>: default <see cref="EndpointScheme.Http"/>.</summary>
    public EndpointScheme Scheme { get; init; } = EndpointScheme.Http;

    public static readonly RouteKey SchemeKey = RouteKey.Choice("scheme", EndpointScheme.Http) with { Description = "Endpoint scheme (older form): http or https." };

    /// <summary><c>tls_ca_file</c>: a PEM bundle of the CAs the endpoint's certificate must chain to; null = the system trust store.</summary>
    public string? CaFile { get; init; }

    public static readonly RouteKey CaFileKey = RouteKey.String("tls_ca_file") with { Description = "PEM bundle of the CAs the endpoint's certificate must chain to; default the system trust store." };

    /// <summary>
    /// <c>tls_server_name</c>: the name the endpoint's certificate must be valid for, also sent as SNI; null = <c>domain</c>
    /// (without its port) when set, else the host of the attempt.
    /// </summary>
    public string? ServerName { get; init; }

    public static readonly RouteKey ServerNameKey = RouteKey.String("tls_server_name") with { Description = "The name the endpoint's certificate must be valid for, also sent as SNI." };

    /// <summary><c>tls_client_cert_file</c>: PEM client certificate for mutual TLS; null = none. Needs <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertFile { get; init; }

    public static readonly RouteKey ClientCertFileKey = RouteKey.String("tls_client_cert_file") with { Description = "PEM client certificate for mutual TLS; needs tls_client_key_file." };

    /// <summary><c>tls_client_key_file</c>: PEM (PKCS#8, PKCS#1 or SEC1) unencrypted private key of <see cref="ClientCertFile"/>.</summary>
    public string? ClientKeyFile { get; init; }

    public static readonly RouteKey ClientKeyFileKey = RouteKey.String("tls_client_key_file") with { Description = "PEM unencrypted private key of tls_client_cert_file." };

    /// <summary><c>tls_insecure_skip_verify</c>: default false. When true the endpoint's certificate is not checked at all (a warning at every start).</summary>
    public bool InsecureSkipVerify { get; init; }

    public static readonly RouteKey InsecureSkipVerifyKey = RouteKey.Boolean("tls_insecure_skip_verify", false) with { Description = "true: the endpoint's certificate is not checked at all (a warning at every start)." };

    /// <summary>True for <c>scheme: https</c>.</summary>
    public bool Enabled => Scheme == EndpointScheme.Https;
}
