using System.Collections.ObjectModel;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// A route file bound to the route's keys before anything is checked: every key of <see cref="RouteKeys.All"/> (and of
/// the <c>auth</c> mapping) as written, with its source and the value as the key's kind. <see cref="RouteValidator"/>
/// checks it; once it passed, <see cref="ToRoute"/> makes the <see cref="RouteDefinition"/>.
/// </summary>
internal sealed class RouteBinding
{
    private readonly Dictionary<string, BoundValue> _values;
    private readonly Dictionary<string, BoundValue> _auth;

    private RouteBinding(MappingBinding map, MappingBinding? authMap)
    {
        Map = map;
        AuthMap = authMap;
        _values = RouteKeys.All.ToDictionary(k => k.Name, map.Bind, StringComparer.Ordinal);
        _auth = authMap is null
            ? []
            : AuthSettings.KeysOfTypes.Select(k => k.Key).Prepend(AuthSettings.TypeKey).ToDictionary(k => k.Name, authMap.Bind, StringComparer.Ordinal);
    }

    /// <summary>The file's top-level mapping.</summary>
    public MappingBinding Map { get; }

    /// <summary>The <c>auth</c> mapping, or null when <c>auth</c> is absent or not a mapping.</summary>
    public MappingBinding? AuthMap { get; }

    /// <summary>The route file's directory, against which relative paths are resolved.</summary>
    public string BaseDir => Path.GetDirectoryName(Map.File)!;

    /// <summary>A key of the route file, bound.</summary>
    public BoundValue this[RouteKey key] => _values[key.Name];

    /// <summary>A key of the <c>auth</c> mapping, bound; only when <see cref="AuthMap"/> is set.</summary>
    public BoundValue Auth(RouteKey key) => _auth[key.Name];

    /// <summary>Binds the top-level mapping of route file <paramref name="file"/>.</summary>
    public static RouteBinding Bind(string file, MappingNode root)
    {
        var map = new MappingBinding(file, "", root);
        var auth = map.Bind(EndpointSettings.AuthKey).Value is MappingNode authNode ? new MappingBinding(file, "auth.", authNode) : null;
        return new RouteBinding(map, auth);
    }

    /// <summary>
    /// The <c>endpoint</c> key read into its parts, or null when the route has none or it cannot be read (the validator
    /// reports why).
    /// </summary>
    public EndpointUrl? Endpoint => this[EndpointSettings.EndpointKey].Value is string[] urls ? EndpointUrl.Parse(urls).Endpoint : null;

    /// <summary><paramref name="path"/> resolved against the route file's directory; null for null.</summary>
    public string? ResolvePath(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(BaseDir, path));

    /// <summary>The route as bound, each absent key at its default. Call only once <see cref="RouteValidator"/> passed it.</summary>
    public RouteDefinition ToRoute(string name)
    {
        var endpoint = Endpoint;
        var scheme = endpoint?.Scheme ?? Choice<EndpointScheme>(TlsSettings.SchemeKey);
        var tls = new TlsSettings
        {
            Scheme = scheme,
            CaFile = ResolvePath(String(TlsSettings.CaFileKey)),
            ServerName = String(TlsSettings.ServerNameKey),
            ClientCertFile = ResolvePath(String(TlsSettings.ClientCertFileKey)),
            ClientKeyFile = ResolvePath(String(TlsSettings.ClientKeyFileKey)),
            InsecureSkipVerify = Bool(TlsSettings.InsecureSkipVerifyKey),
        };
        return new RouteDefinition
        {
            Name = name,
            SourceFile = Map.File,
            Topic = String(RouteDefinition.TopicKey)!,
            Group = String(RouteDefinition.GroupKey)!,
            Cluster = String(RouteDefinition.ClusterKey)!,
            Concurrency = Int(RouteDefinition.ConcurrencyKey),
            Assignor = String(RouteDefinition.AssignorKey)!.ToLowerInvariant(),
            ConsumerConf = Conf(RouteDefinition.ConsumerConfKey),
            ConsumerTopicConf = Conf(RouteDefinition.ConsumerTopicConfKey),
            Endpoint = new EndpointSettings
            {
                Hosts = endpoint?.Hosts ?? String(EndpointSettings.HostKey)!.Split(',', StringSplitOptions.TrimEntries),
                Port = endpoint?.Port ?? this[EndpointSettings.PortKey].Value as int? ?? EndpointUrl.DefaultPort(scheme),
                Url = endpoint?.Path ?? String(EndpointSettings.UrlKey)!,
                ConnTimeoutMs = Int(EndpointSettings.ConnTimeoutMsKey),
                ExecTimeoutMs = Int(EndpointSettings.ExecTimeoutMsKey),
                SlowTimeMs = this[EndpointSettings.SlowTimeMsKey].Value as int?,
                Domain = String(EndpointSettings.DomainKey),
                ResponseCheck = Choice<ResponseCheck>(EndpointSettings.ResponseCheckKey),
                ResponseExpression = String(EndpointSettings.ResponseExpressionKey) is { } expression ? ResponseExpression.Compile(expression, out _) : null,
                Tls = tls,
                Auth = ToAuth(),
                Headers = Headers(),
            },
            Retry = new RetrySettings
            {
                CanSkip = Bool(RetrySettings.CanSkipKey),
                RetryNums = Int(RetrySettings.RetryNumsKey),
                RetryIntervalMs = Int(RetrySettings.RetryIntervalMsKey),
                Backoff = Choice<RetryBackoff>(RetrySettings.BackoffKey),
                RetryMaxIntervalMs = Int(RetrySettings.RetryMaxIntervalMsKey),
                BreakerFailures = Int(RetrySettings.BreakerFailuresKey),
                BreakerProbeIntervalMs = Int(RetrySettings.BreakerProbeIntervalMsKey),
                SkipOnStatus = this[RetrySettings.SkipOnStatusKey].Value is IReadOnlyList<BoundEntry> statuses
                    ? new HashSet<int>(statuses.Select(s => s.Number!.Value))
                    : new HashSet<int>(),
            },
            Delivery = new DeliverySettings
            {
                AsyncConcurrency = Int(DeliverySettings.AsyncConcurrencyKey),
                Ordering = Choice<DeliveryOrdering>(DeliverySettings.OrderingKey),
                MaxPending = Int(DeliverySettings.MaxPendingKey),
                MaxPendingBytes = Int(DeliverySettings.MaxPendingBytesKey),
                Format = Choice<RequestFormat>(DeliverySettings.FormatKey),
                ContentType = String(DeliverySettings.ContentTypeKey)!,
                CloudEventsType = String(DeliverySettings.CloudEventsTypeKey)!,
                BatchSize = Int(DeliverySettings.BatchSizeKey),
                BatchLingerMs = Int(DeliverySettings.BatchLingerMsKey),
                MaxRequestsPerSecond = this[DeliverySettings.MaxRequestsPerSecondKey].Value as int?,
                AdaptiveConcurrency = Bool(DeliverySettings.AdaptiveConcurrencyKey),
                Limit = String(DeliverySettings.LimitKey),
            },
            Offsets = new OffsetSettings
            {
                UseSavedOffsetTime = Int(OffsetSettings.UseSavedOffsetTimeKey),
                MessageDeliveryGuarantees = (DeliveryGuarantee)Int(OffsetSettings.MessageDeliveryGuaranteesKey),
                CommitIntervalMs = Int(OffsetSettings.CommitIntervalMsKey),
                MaxUncommitted = Int(OffsetSettings.MaxUncommittedKey),
            },
            DeadLetter = new DeadLetterSettings { Topic = String(DeadLetterSettings.TopicKey), Cluster = String(DeadLetterSettings.ClusterKey) },
            RetryLane = new RetryLaneSettings
            {
                Topic = String(RetryLaneSettings.TopicKey),
                DelaysMs = this[RetryLaneSettings.DelaysMsKey].Value is IReadOnlyList<BoundEntry> delays
                    ? [.. delays.Select(d => d.Number!.Value)]
                    : RetryLaneSettings.DefaultDelaysMs,
            },
            Decoding = new DecodingSettings
            {
                ValueFormat = DecodingSettings.Parse(String(DecodingSettings.ValueFormatKey))!.Value,
                KeyFormat = DecodingSettings.Parse(String(DecodingSettings.KeyFormatKey))!.Value,
            },
        };
    }

    /// <summary>The <c>auth</c> mapping as settings; null when absent. Call only once its keys passed their checks.</summary>
    public AuthSettings? ToAuth()
    {
        if (AuthMap is null)
            return null;
        string? Value(string key) => Auth(RouteKey.String(key)).Value as string;
        return new AuthSettings
        {
            Type = (string)Auth(AuthSettings.TypeKey).Value! switch
            {
                var t when t.Equals("bearer", StringComparison.OrdinalIgnoreCase) => AuthType.Bearer,
                var t when t.Equals("basic", StringComparison.OrdinalIgnoreCase) => AuthType.Basic,
                var t when t.Equals("oauth2_client_credentials", StringComparison.OrdinalIgnoreCase) => AuthType.OAuth2ClientCredentials,
                _ => AuthType.Hmac,
            },
            Token = Value("token"),
            Username = Value("username"),
            Password = Value("password"),
            TokenUrl = Value("token_url") is { } url ? new Uri(url, UriKind.Absolute) : null,
            ClientId = Value("client_id"),
            ClientSecret = Value("client_secret"),
            Scope = Value("scope"),
            Audience = Value("audience"),
            Secret = Value("secret"),
        };
    }

    /// <summary>The <c>librdkafka</c> text of a property value: plain true/false in lower case, anything else as written.</summary>
    public static string ConfText(ScalarNode scalar) =>
        !scalar.IsQuoted && bool.TryParse(scalar.Text, out var b) ? (b ? "true" : "false") : scalar.Text;

    private int Int(RouteKey key) => this[key].Value as int? ?? key.Default as int? ?? 0;

    private bool Bool(RouteKey key) => this[key].Value as bool? ?? key.Default as bool? ?? false;

    private string? String(RouteKey key) => this[key].Value as string ?? key.Default as string;

    private TEnum Choice<TEnum>(RouteKey key)
        where TEnum : struct, Enum =>
        RouteKey.Parse<TEnum>(this[key].Value as string ?? (string)key.Default!)!.Value;

    private IReadOnlyDictionary<string, string> Conf(RouteKey key) =>
        this[key].Value is MappingNode map
            ? map.Entries.ToDictionary(e => e.Key, e => ConfText((ScalarNode)e.Value), StringComparer.Ordinal)
            : ReadOnlyDictionary<string, string>.Empty;

    private List<KeyValuePair<string, string>> Headers() =>
        this[EndpointSettings.HeadersKey].Value is MappingNode map
            ? [.. map.Entries.Select(e => new KeyValuePair<string, string>(e.Key, ((ScalarNode)e.Value).Text))]
            : [];
}
