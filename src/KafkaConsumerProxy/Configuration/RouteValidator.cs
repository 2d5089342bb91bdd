using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Checks a bound route file (<see cref="RouteBinding"/>) and collects every error, each naming the file, the key and
/// the bad value: every key against its <see cref="RouteKey"/> declaration, then the rules between keys. Keys are checked
/// in groups in a fixed order (the values that make the request, then timeouts and offsets, throughput, policy, the
/// secure endpoint, CloudEvents), and each group's rules between keys run only when the group's keys passed, so that a
/// value that failed its own check is not blamed again by a rule of its group; a rule reading a key of an earlier group
/// sees that key's default when its value failed. Errors are listed, and unknown keys matched, in that order. The rules
/// that need the made route (its requests, its record file names under <c>state_dir</c>, librdkafka's consumer check)
/// run on it after, when the loader has what they need.
/// </summary>
internal sealed class RouteValidator
{
    private readonly RouteBinding _route;
    private readonly KeyChecker _check;
    private readonly Dictionary<string, ClusterDefinition>? _clusters;
    private readonly Dictionary<string, LimitDefinition>? _limits;

    // What the rules of later groups see of the throughput keys: as written when they passed, else their defaults.
    private DeliveryOrdering _ordering = RouteDefaults.Ordering;
    private int _batchSize = RouteDefaults.BatchSize;

    private RouteValidator(RouteBinding route, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors)
    {
        _route = route;
        _check = new KeyChecker(route.Map, errors);
        _clusters = clusters;
        _limits = limits;
    }

    /// <summary>
    /// Checks every key of <paramref name="route"/> and the rules between them, adding each problem to
    /// <paramref name="errors"/>; true when none was found. <paramref name="clusters"/> and <paramref name="limits"/> are
    /// null when kcp.yaml's own section is unusable, so that the route is not also blamed for naming one.
    /// </summary>
    public static bool Validate(RouteBinding route, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors)
    {
        var before = errors.Count;
        new RouteValidator(route, clusters, limits, errors).CheckKeys();
        return errors.Count == before;
    }

    /// <summary>
    /// The rule that needs the whole route: its request URLs and Host header are made as they will be sent and must come
    /// out as written (<see cref="EndpointRules.CheckAsSent"/>). Call with the route made from a binding that passed <see cref="Validate"/>.
    /// </summary>
    public static bool ValidateRequests(RouteBinding binding, RouteDefinition route, List<ConfigError> errors)
    {
        var before = errors.Count;
        var check = new KeyChecker(binding.Map, errors);
        var endpoint = binding[EndpointSettings.EndpointKey].Value as string[];
        foreach (var (key, message) in EndpointRules.CheckAsSent(route))
        {
            if (endpoint is not null && key is "host" or "url")
            {
                check.Error("endpoint", string.Join(", ", endpoint), message);
                continue;
            }

            var written = key switch { "host" => EndpointSettings.HostKey, "url" => EndpointSettings.UrlKey, _ => EndpointSettings.DomainKey };
            check.Error(key, binding[written].Text, message);
        }

        return errors.Count == before;
    }

    /// <summary>
    /// The rule between the routes' names and the state directory, run once <c>state_dir</c> is known and every route
    /// was read: each partition's local record file name fits the file system (<see cref="StateDirRules.RecordNameProblem"/>).
    /// </summary>
    public static void ValidateRecordNames(IEnumerable<RouteDefinition> routes, List<ConfigError> errors)
    {
        foreach (var route in routes)
        {
            if (StateDirRules.RecordNameProblem(route) is var (key, value, message))
                errors.Add(new ConfigError(route.SourceFile, key, value, message));
            else if (route.RetryLane.Topic is { } lane && StateDirRules.RecordNameProblem(route with { Group = RetryLaneSettings.GroupOf(route.Group), Topic = lane }) is var (laneKey, _, laneMessage))
                errors.Add(new ConfigError(route.SourceFile, laneKey == "topic" ? "retry_topic" : laneKey, laneKey switch { "topic" => lane, "group" => route.Group, _ => route.Cluster },
                    $"{laneMessage} (the retry lane's partitions: group '{RetryLaneSettings.GroupOf("{group}")}', topic retry_topic)"));
        }
    }

    /// <summary>
    /// The rule between each route and its cluster, run once every value passed on its own: librdkafka accepts the
    /// consumer settings the route would start with (the cluster's <c>consumer_conf</c>, then the route's).
    /// </summary>
    public static void ValidateConsumers(IEnumerable<RouteDefinition> routes, Dictionary<string, ClusterDefinition> clusters, List<ConfigError> errors)
    {
        foreach (var route in routes)
        {
            if (LibrdkafkaCheck.ConsumerProblem(ConsumerSettings.Create(route, clusters[route.Cluster], 0)) is { } problem)
            {
                errors.Add(new ConfigError(route.SourceFile, "consumer_conf", null,
                    $"librdkafka refuses the route's consumer settings (cluster '{route.Cluster}' consumer_conf, then this file's consumer_conf and consumer_topic_conf): {problem}"));
            }
        }
    }

    private int? Int(RouteKey key) => _check.Int(_route[key]);

    private bool? Bool(RouteKey key) => _check.Bool(_route[key]);

    private string? String(RouteKey key) => _check.String(_route[key]);

    private string? Choice(RouteKey key) => _check.Choice(_route[key]);

    private void Error(string key, string? value, string message) => _check.Error(key, value, message);

    // The rules between keys see each key's value when it passed, else its default (0 for a required number).
    private void CheckKeys()
    {
        var topic = String(RouteDefinition.TopicKey) ?? "";
        if (topic.Length > 0 && !IsKafkaTopicName(topic))
            Error("topic", topic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        var group = String(RouteDefinition.GroupKey) ?? "";
        if (group.Any(char.IsControl))
            Error("group", group, $"must be a consumer group id without {ConfigLoader.ControlCharacters}");

        var beforeCluster = _check.ErrorCount;
        var cluster = String(RouteDefinition.ClusterKey);
        if (_clusters is not null && _check.ErrorCount == beforeCluster && !_clusters.ContainsKey(cluster ?? RouteDefaults.Cluster))
        {
            var defined = _clusters.Count == 0 ? "none" : string.Join(", ", _clusters.Keys.Order(StringComparer.Ordinal));
            var implicitNote = cluster is null ? $" (the route has no 'cluster' key, so it uses '{RouteDefaults.Cluster}')" : "";
            Error("cluster", cluster ?? RouteDefaults.Cluster, $"unknown cluster; defined clusters: {defined}{implicitNote}");
        }

        CheckEndpointKeys();

        Int(RouteDefinition.ConcurrencyKey);
        CheckAssignor();
        Bool(RetrySettings.CanSkipKey);
        Int(RetrySettings.RetryNumsKey);
        var retryIntervalMs = Int(RetrySettings.RetryIntervalMsKey) ?? RouteDefaults.RetryIntervalMs;
        Int(EndpointSettings.ConnTimeoutMsKey);
        Int(EndpointSettings.ExecTimeoutMsKey);
        Int(OffsetSettings.UseSavedOffsetTimeKey);
        Int(EndpointSettings.SlowTimeMsKey);
        _check.Conf(_route[RouteDefinition.ConsumerConfKey]);
        _check.Conf(_route[RouteDefinition.ConsumerTopicConfKey]);
        var asyncConcurrency = Int(DeliverySettings.AsyncConcurrencyKey) ?? 0;
        Int(OffsetSettings.MessageDeliveryGuaranteesKey);
        CheckResponseKeys();
        Int(OffsetSettings.CommitIntervalMsKey);
        Int(OffsetSettings.MaxUncommittedKey);

        var format = CheckThroughputKeys(asyncConcurrency);
        cluster ??= RouteDefaults.Cluster;
        CheckPolicyKeys(asyncConcurrency, retryIntervalMs, topic, cluster);
        RetryLaneRules.Check(_check, _route, asyncConcurrency, _ordering, _batchSize, topic, cluster);
        var headers = EndpointSecurityRules.Check(_check, _route);
        CheckCloudEventsKeys(format, cluster, topic, headers);
        CheckDecodingKeys(format, cluster);
        _check.ReportUnknownKeys();
    }

    /// <summary>
    /// <c>value_format</c> and <c>key_format</c>: a format other than <c>bytes</c> needs the cluster's
    /// <c>schema_registry</c>; a decoded value is JSON, so <c>format: raw</c> sends it as <c>application/json</c>
    /// (<c>content_type</c> is refused with it), and <c>format: cloudevents</c> does not take a decoded value.
    /// </summary>
    private void CheckDecodingKeys(RequestFormat format, string cluster)
    {
        var before = _check.ErrorCount;
        var value = DecodingSettings.Parse(Choice(DecodingSettings.ValueFormatKey));
        var key = DecodingSettings.Parse(Choice(DecodingSettings.KeyFormatKey));
        if (_check.ErrorCount != before)
            return;

        var hasRegistry = _clusters is null || !_clusters.TryGetValue(cluster, out var definition) || definition.SchemaRegistry is not null;
        foreach (var (routeKey, written) in new[] { (DecodingSettings.ValueFormatKey, value), (DecodingSettings.KeyFormatKey, key) })
        {
            if (written is null or RecordFormat.Bytes)
                continue;
            if (!hasRegistry)
                Error(routeKey.Name, DecodingSettings.Name(written.Value), $"needs a schema registry, but cluster '{cluster}' has no schema_registry in kcp.yaml; set clusters.{cluster}.schema_registry.url, or use {routeKey.Name}: bytes to send the bytes as they are");
        }

        if (value is not (null or RecordFormat.Bytes) && format == RequestFormat.CloudEvents)
            Error("value_format", DecodingSettings.Name(value.Value), "must be bytes with format: cloudevents (a CloudEvent's data is sent as it is); use format json, form or raw to have values decoded");
        else if (value is not (null or RecordFormat.Bytes) && format == RequestFormat.Raw && _route[DeliverySettings.ContentTypeKey].Value is string contentType)
            Error("content_type", contentType, $"applies only with value_format: bytes; a decoded value ({DecodingSettings.Name(value.Value)}) is sent as application/json");
    }

    /// <summary>
    /// <c>assignor</c> is one of its choices, and is not also set as <c>partition.assignment.strategy</c> in the route's
    /// or its cluster's <c>consumer_conf</c>, which would win over it unseen. (A strategy list mixing cooperative and
    /// eager assignors is refused by librdkafka's whole-config check.)
    /// </summary>
    private void CheckAssignor()
    {
        var written = _route[RouteDefinition.AssignorKey];
        if (Choice(RouteDefinition.AssignorKey) is null || written.IsAbsent)
            return;
        const string Strategy = "partition.assignment.strategy";
        var inRoute = _route[RouteDefinition.ConsumerConfKey].Value is MappingNode map && map.Entries.Any(e => e.Key == Strategy);
        var cluster = String(RouteDefinition.ClusterKey) ?? RouteDefaults.Cluster;
        var inCluster = _clusters is not null && _clusters.TryGetValue(cluster, out var definition) && definition.ConsumerConf.ContainsKey(Strategy);
        if (inRoute || inCluster)
        {
            var where = inRoute ? "this file's consumer_conf" : $"cluster '{cluster}' consumer_conf";
            Error("assignor", written.Text, $"conflicts with {Strategy} in {where}; set the assignor in one place only");
        }
    }

    /// <summary>
    /// <c>response_check: expression</c> needs a <c>response_expression</c>, which no other check reads; the expression
    /// must compile, each problem named with its position in the expression (<see cref="ResponseExpression.Compile"/>).
    /// </summary>
    private void CheckResponseKeys()
    {
        var checkBound = _route[EndpointSettings.ResponseCheckKey];
        // null when the value written is not a choice (reported); the default when none is written.
        var check = RouteKey.Parse<ResponseCheck>(Choice(EndpointSettings.ResponseCheckKey)) ?? (checkBound.IsAbsent ? RouteDefaults.ResponseCheck : null);
        var expression = String(EndpointSettings.ResponseExpressionKey);
        if (check == ResponseCheck.Expression && _route[EndpointSettings.ResponseExpressionKey].IsAbsent)
            Error("response_check", checkBound.Text, "needs response_expression: a CEL expression over status, headers, body and body_text that is true when the answer means success, e.g. status == 200 && body.result == \"ok\"");
        if (expression is null)
            return;
        if (check is { } other && other != ResponseCheck.Expression)
        {
            Error("response_expression", expression, "is read only with response_check: expression; add it, or remove response_expression");
            return;
        }

        ResponseExpression.Compile(expression, out var problems);
        foreach (var problem in problems)
            Error("response_expression", expression, problem);
    }

    // endpoint, or host, port and url; and domain: what the request is sent to.
    private void CheckEndpointKeys()
    {
        CheckEndpointOrHost();
        var domain = String(EndpointSettings.DomainKey);
        if (domain is not null && EndpointRules.DomainProblem(domain) is { } domainProblem)
            Error("domain", domain, domainProblem);
    }

    private void CheckEndpointOrHost()
    {
        var endpointBound = _route[EndpointSettings.EndpointKey];
        var urls = _check.UrlList(endpointBound);
        if (!endpointBound.IsAbsent)
        {
            foreach (var key in EndpointSettings.PartsOfEndpoint)
            {
                _check.Known(key.Name);
                if (!_route[key].IsAbsent)
                {
                    Error(key.Name, _route[key].Text, "cannot be used together with 'endpoint', which holds the scheme, host, port and path; write either endpoint or host, port, url and scheme");
                }
            }

            if (urls is not null && EndpointUrl.Parse(urls) is { Endpoint: null } bad)
                Error("endpoint", bad.BadUrl, bad.Problem!);
            return;
        }

        if (_route[EndpointSettings.HostKey].IsAbsent)
            Error("endpoint", null, $"required key is missing; must be {EndpointSettings.EndpointKey.Expected} (or host, with port and url)");
        var hostText = String(EndpointSettings.HostKey) ?? "";
        var hosts = hostText.Split(',', StringSplitOptions.TrimEntries);
        Int(EndpointSettings.PortKey);
        if (hostText.Length > 0 && hosts.Any(h => h.Length == 0 || h.Contains("://", StringComparison.Ordinal) || h.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            Error("host", hostText, "must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path");
        }
        else if (hostText.Length > 0)
        {
            foreach (var problem in hosts.Select(h => EndpointRules.HostEntryProblem(h)).OfType<string>())
                Error("host", hostText, problem);
        }

        var url = String(EndpointSettings.UrlKey) ?? "";
        if (url.Length > 0 && !url.StartsWith('/'))
            Error("url", url, "must be a path starting with '/'");
        else if (url.Length > 0 && EndpointRules.UrlProblem(url) is { } urlProblem)
            Error("url", url, urlProblem);
    }

    // Kafka's own rule (org.apache.kafka.common.internals.Topic.validate).
    internal static bool IsKafkaTopicName(string topic) =>
        topic.Length <= 249 && topic is not "." and not ".." && topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>
    /// The keys of async delivery, request formats and batching, and the rules between them. A key that would have
    /// no effect with the others as written is an error, so nobody believes a setting is active when it is not.
    /// Returns the format the later rules see.
    /// </summary>
    private RequestFormat CheckThroughputKeys(int asyncConcurrency)
    {
        var before = _check.ErrorCount;
        var ordering = Choice(DeliverySettings.OrderingKey);
        var maxPending = Int(DeliverySettings.MaxPendingKey) ?? RouteDefaults.MaxPending;
        Int(DeliverySettings.MaxPendingBytesKey);
        var format = RouteKey.Parse<RequestFormat>(Choice(DeliverySettings.FormatKey)) ?? RouteDefaults.Format;
        var contentType = String(DeliverySettings.ContentTypeKey);
        var written = Int(DeliverySettings.BatchSizeKey);
        var batchSize = written ?? RouteDefaults.BatchSize;
        var linger = Int(DeliverySettings.BatchLingerMsKey);
        if (_check.ErrorCount != before)
            return format;

        (_ordering, _batchSize) = (RouteKey.Parse<DeliveryOrdering>(ordering) ?? RouteDefaults.Ordering, batchSize);
        if (ordering is not null && asyncConcurrency == 0)
            Error("ordering", ordering, "applies only with async_concurrency > 0; sync delivery (async_concurrency 0) is always in partition order");
        if (contentType is not null && format != RequestFormat.Raw)
            Error("content_type", contentType, "applies only with format: raw; form, json and cloudevents set their own Content-Type");
        else if (contentType is not null && (contentType.Any(c => char.IsControl(c) || c > '\x7e') || !System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out _)))
            Error("content_type", contentType, "must be a media type such as application/octet-stream or text/plain; charset=utf-8");
        if (batchSize > 1 && format is not (RequestFormat.Json or RequestFormat.CloudEvents))
            Error("batch_size", written?.ToString(CultureInfo.InvariantCulture), "must be 1 unless format is json or cloudevents: a batch is sent as a JSON array of envelopes or of CloudEvents");
        else if (batchSize > maxPending)
            Error("batch_size", written?.ToString(CultureInfo.InvariantCulture), string.Create(CultureInfo.InvariantCulture,
                $"must not exceed max_pending ({maxPending}): a batch is made of one partition's pending messages"));
        if (linger is not null && batchSize == 1)
            Error("batch_linger_ms", linger.Value.ToString(CultureInfo.InvariantCulture), "applies only with batch_size > 1");
        return format;
    }

    /// <summary>
    /// The keys of the delivery policy: backoff, permanent statuses, rate and adaptive concurrency, shared budget and
    /// dead-letter topic, and the rules between them.
    /// </summary>
    private void CheckPolicyKeys(int asyncConcurrency, int retryIntervalMs, string topic, string cluster)
    {
        var before = _check.ErrorCount;
        Choice(RetrySettings.BackoffKey);
        var maxInterval = Int(RetrySettings.RetryMaxIntervalMsKey);
        _check.IntList(_route[RetrySettings.SkipOnStatusKey]);
        Int(DeliverySettings.MaxRequestsPerSecondKey);
        var breakerFailures = Int(RetrySettings.BreakerFailuresKey);
        var probeInterval = Int(RetrySettings.BreakerProbeIntervalMsKey);
        var adaptive = Bool(DeliverySettings.AdaptiveConcurrencyKey);
        var limit = String(DeliverySettings.LimitKey);
        var deadLetterTopic = String(DeadLetterSettings.TopicKey);
        var deadLetterCluster = String(DeadLetterSettings.ClusterKey);
        if (_check.ErrorCount != before)
            return;

        string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
        if (maxInterval is not null && maxInterval < retryIntervalMs)
            Error("retry_max_interval_ms", Text(maxInterval.Value), $"must not be less than retry_interval_ms ({Text(retryIntervalMs)})");
        else if (maxInterval is null && retryIntervalMs > RouteDefaults.RetryMaxIntervalMs)
            Error("retry_interval_ms", Text(retryIntervalMs), $"is over the default retry_max_interval_ms ({Text(RouteDefaults.RetryMaxIntervalMs)}); set retry_max_interval_ms to at least retry_interval_ms");
        if (probeInterval is not null && breakerFailures == 0)
            Error("breaker_probe_interval_ms", Text(probeInterval.Value), "applies only with breaker_failures > 0; breaker_failures: 0 turns the circuit breaker off");
        if (adaptive == true && asyncConcurrency == 0)
            Error("adaptive_concurrency", "true", "applies only with async_concurrency > 0, which is its upper bound");
        if (limit is not null && _limits is not null && !_limits.ContainsKey(limit))
        {
            var defined = _limits.Count == 0 ? "none (kcp.yaml has no 'limits')" : string.Join(", ", _limits.Keys.Order(StringComparer.Ordinal));
            Error("limit", limit, $"unknown shared budget; budgets defined in kcp.yaml's limits: {defined}");
        }

        if (deadLetterTopic is not null && !IsKafkaTopicName(deadLetterTopic))
            Error("dead_letter_topic", deadLetterTopic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        else if (deadLetterTopic == topic && (deadLetterCluster ?? cluster) == cluster)
            Error("dead_letter_topic", deadLetterTopic, "must not be the route's own topic on its own cluster: skipped messages would be consumed again");
        if (deadLetterCluster is not null && deadLetterTopic is null)
            Error("dead_letter_cluster", deadLetterCluster, "applies only with dead_letter_topic");
        else if (deadLetterCluster is not null && _clusters is not null && !_clusters.ContainsKey(deadLetterCluster))
            Error("dead_letter_cluster", deadLetterCluster, $"unknown cluster; defined clusters: {string.Join(", ", _clusters.Keys.Order(StringComparer.Ordinal))}");
    }

    /// <summary>The longest <c>cloudevents_type</c>: 1024 characters, far more than a reverse-DNS type name needs.</summary>
    private const int MaxCloudEventsTypeLength = 1024;

    /// <summary>
    /// <c>cloudevents_type</c> and the rules of <c>format: cloudevents</c>: the type is text that can be sent as the
    /// <c>ce-type</c> header (percent-encoded where the HTTP binding asks for it), and static <c>headers</c> must not
    /// set the <c>ce-*</c> headers that carry the event's attributes.
    /// </summary>
    private void CheckCloudEventsKeys(RequestFormat format, string cluster, string topic, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var before = _check.ErrorCount;
        var type = String(DeliverySettings.CloudEventsTypeKey);
        if (_check.ErrorCount != before)
            return;

        if (type is not null && format != RequestFormat.CloudEvents)
            Error("cloudevents_type", type, "applies only with format: cloudevents");
        else if (type is not null && CloudEventsTypeProblem(type) is { } problem)
            Error("cloudevents_type", type, problem);
        if (format == RequestFormat.CloudEvents)
        {
            if (CloudEventSource.Problem(cluster, topic) is { } sourceProblem)
                Error("cluster", cluster, sourceProblem);
            foreach (var header in headers.Where(h => h.Key.StartsWith("ce-", StringComparison.OrdinalIgnoreCase)))
                Error($"headers.{header.Key}", null, "must not be set with format: cloudevents, whose ce-* headers carry the event's attributes");
        }
    }

    // Why a CloudEvents type cannot be used as written, or null.
    private static string? CloudEventsTypeProblem(string type)
    {
        if (type.Length > MaxCloudEventsTypeLength)
            return $"must be at most {MaxCloudEventsTypeLength} characters";
        for (var i = 0; i < type.Length; i++)
        {
            var c = type[i];
            if (char.IsControl(c))
                return "must not contain control characters (line breaks, tabs and the like): it is sent as the ce-type header, e.g. com.example.order.created";
            if (char.IsHighSurrogate(c) && i + 1 < type.Length && char.IsLowSurrogate(type[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                return "must be valid Unicode text (it holds a lone surrogate)";
        }

        return char.IsWhiteSpace(type[0]) || char.IsWhiteSpace(type[^1]) ? "must not start or end with white space" : null;
    }
}
