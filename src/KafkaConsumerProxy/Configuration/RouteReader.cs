using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads one route file into a <see cref="RouteDefinition"/>: every key with its type and range, and the rules between
/// keys. Errors are added to the caller's list, each naming the file, the key and the bad value.
/// </summary>
internal static class RouteReader
{
    /// <summary>The route of <paramref name="file"/>, or null after adding its errors to <paramref name="errors"/>.</summary>
    public static RouteDefinition? Read(string file, string name, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors)
    {
        var root = ConfigTree.Parse(file, errors);
        if (root is null)
            return null;
        root = SecretReferences.Resolve(file, root, errors);

        var before = errors.Count;
        var r = new MapReader(file, root, errors);
        var topic = r.RequiredString(RouteDefinition.TopicKey.Name);
        if (topic.Length > 0 && !IsKafkaTopicName(topic))
            r.Error("topic", topic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        var group = r.RequiredString(RouteDefinition.GroupKey.Name);
        if (group.Any(char.IsControl))
            r.Error("group", group, $"must be a consumer group id without {ConfigLoader.ControlCharacters}");

        var beforeCluster = errors.Count;
        var cluster = r.String(RouteDefinition.ClusterKey);
        if (clusters is not null && errors.Count == beforeCluster && !clusters.ContainsKey(cluster ?? RouteDefaults.Cluster))
        {
            var defined = clusters.Count == 0 ? "none" : string.Join(", ", clusters.Keys.Order(StringComparer.Ordinal));
            var implicitNote = cluster is null ? $" (the route has no 'cluster' key, so it uses '{RouteDefaults.Cluster}')" : "";
            r.Error("cluster", cluster ?? RouteDefaults.Cluster, $"unknown cluster; defined clusters: {defined}{implicitNote}");
        }

        var hostText = r.RequiredString(EndpointSettings.HostKey.Name);
        var hosts = hostText.Split(',', StringSplitOptions.TrimEntries);
        var port = r.Int(EndpointSettings.PortKey);
        if (hostText.Length > 0 && hosts.Any(h => h.Length == 0 || h.Contains("://", StringComparison.Ordinal) || h.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            r.Error("host", hostText, "must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path");
        }
        else if (hostText.Length > 0)
        {
            foreach (var problem in hosts.Select(h => EndpointRules.HostEntryProblem(h)).OfType<string>())
                r.Error("host", hostText, problem);
        }

        var url = r.RequiredString(EndpointSettings.UrlKey.Name);
        if (url.Length > 0 && !url.StartsWith('/'))
            r.Error("url", url, "must be a path starting with '/'");
        else if (url.Length > 0 && EndpointRules.UrlProblem(url) is { } urlProblem)
            r.Error("url", url, urlProblem);

        var domain = r.String(EndpointSettings.DomainKey);
        if (domain is not null && EndpointRules.DomainProblem(domain) is { } domainProblem)
            r.Error("domain", domain, domainProblem);

        // Read in this order: errors are listed, and unknown keys matched, in the order keys are read.
        var concurrency = r.Int(RouteDefinition.ConcurrencyKey) ?? 0;
        var canSkip = r.Bool(RetrySettings.CanSkipKey) ?? false;
        var retryNums = r.Int(RetrySettings.RetryNumsKey) ?? 0;
        var retryIntervalMs = r.Int(RetrySettings.RetryIntervalMsKey) ?? 0;
        var connTimeoutMs = r.Int(EndpointSettings.ConnTimeoutMsKey) ?? 0;
        var execTimeoutMs = r.Int(EndpointSettings.ExecTimeoutMsKey) ?? 0;
        var useSavedOffsetTime = r.Int(OffsetSettings.UseSavedOffsetTimeKey) ?? 0;
        var slowTimeMs = r.Int(EndpointSettings.SlowTimeMsKey);
        var consumerConf = r.Conf(RouteDefinition.ConsumerConfKey.Name);
        var consumerTopicConf = r.Conf(RouteDefinition.ConsumerTopicConfKey.Name);
        var asyncConcurrency = r.Int(DeliverySettings.AsyncConcurrencyKey) ?? 0;
        var guarantees = (DeliveryGuarantee)(r.Int(OffsetSettings.MessageDeliveryGuaranteesKey) ?? (int)RouteDefaults.MessageDeliveryGuarantees);
        var responseCheck = r.Choice(EndpointSettings.ResponseCheckKey) switch
        {
            "status" => ResponseCheck.Status,
            "errno" => ResponseCheck.Errno,
            _ => RouteDefaults.ResponseCheck,
        };
        var commitIntervalMs = r.Int(OffsetSettings.CommitIntervalMsKey) ?? RouteDefaults.CommitIntervalMs;
        var maxUncommitted = r.Int(OffsetSettings.MaxUncommittedKey) ?? RouteDefaults.MaxUncommitted;
        var route = new RouteDefinition
        {
            Name = name,
            SourceFile = file,
            Topic = topic,
            Group = group,
            Cluster = cluster ?? RouteDefaults.Cluster,
            Concurrency = concurrency,
            ConsumerConf = consumerConf,
            ConsumerTopicConf = consumerTopicConf,
            Endpoint = new EndpointSettings
            {
                Hosts = hosts,
                Port = port ?? 0,
                Url = url,
                ConnTimeoutMs = connTimeoutMs,
                ExecTimeoutMs = execTimeoutMs,
                SlowTimeMs = slowTimeMs,
                Domain = domain,
                ResponseCheck = responseCheck,
            },
            Retry = new RetrySettings { CanSkip = canSkip, RetryNums = retryNums, RetryIntervalMs = retryIntervalMs },
            Delivery = new DeliverySettings { AsyncConcurrency = asyncConcurrency },
            Offsets = new OffsetSettings
            {
                UseSavedOffsetTime = useSavedOffsetTime,
                MessageDeliveryGuarantees = guarantees,
                CommitIntervalMs = commitIntervalMs,
                MaxUncommitted = maxUncommitted,
            },
        };
        route = ReadThroughputKeys(r, route);
        route = ReadPolicyKeys(r, route, clusters, limits);
        route = EndpointSecurityReader.Read(r, route, errors);
        route = ReadCloudEventsKeys(r, route);
        r.ReportUnknownKeys();
        if (errors.Count != before)
            return null;

        foreach (var (key, message) in EndpointRules.CheckWithDelivery(route))
            r.Error(key, key switch { "host" => hostText, "url" => url, _ => domain }, message);
        return errors.Count == before ? route : null;
    }

    // Kafka's own rule (org.apache.kafka.common.internals.Topic.validate).
    private static bool IsKafkaTopicName(string topic) =>
        topic.Length <= 249 && topic is not "." and not ".." && topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>
    /// The keys of async delivery, request formats and batching, and the rules between them. A key that would have
    /// no effect with the others as written is an error, so nobody believes a setting is active when it is not.
    /// </summary>
    private static RouteDefinition ReadThroughputKeys(MapReader r, RouteDefinition route)
    {
        var before = r.ErrorCount;
        var ordering = r.Choice(DeliverySettings.OrderingKey);
        var maxPending = r.Int(DeliverySettings.MaxPendingKey);
        var maxPendingBytes = r.Int(DeliverySettings.MaxPendingBytesKey);
        var format = r.Choice(DeliverySettings.FormatKey);
        var contentType = r.String(DeliverySettings.ContentTypeKey);
        var batchSize = r.Int(DeliverySettings.BatchSizeKey);
        var linger = r.Int(DeliverySettings.BatchLingerMsKey);
        route = route with
        {
            Delivery = route.Delivery with
            {
                Ordering = ordering == "none" ? DeliveryOrdering.None : RouteDefaults.Ordering,
                MaxPending = maxPending ?? RouteDefaults.MaxPending,
                MaxPendingBytes = maxPendingBytes ?? RouteDefaults.MaxPendingBytes,
                Format = format switch
                {
                    "json" => RequestFormat.Json,
                    "raw" => RequestFormat.Raw,
                    "cloudevents" => RequestFormat.CloudEvents,
                    _ => RouteDefaults.Format,
                },
                ContentType = contentType ?? RouteDefaults.RawContentType,
                BatchSize = batchSize ?? RouteDefaults.BatchSize,
                BatchLingerMs = linger ?? RouteDefaults.BatchLingerMs,
            },
        };
        if (r.ErrorCount != before)
            return route;

        if (ordering is not null && route.Delivery.AsyncConcurrency == 0)
            r.Error("ordering", ordering, "applies only with async_concurrency > 0; sync delivery (async_concurrency 0) is always in partition order");
        if (contentType is not null && route.Delivery.Format != RequestFormat.Raw)
            r.Error("content_type", contentType, "applies only with format: raw; form, json and cloudevents set their own Content-Type");
        else if (contentType is not null && (contentType.Any(c => char.IsControl(c) || c > '\x7e') || !System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out _)))
            r.Error("content_type", contentType, "must be a media type such as application/octet-stream or text/plain; charset=utf-8");
        if (route.Delivery.BatchSize > 1 && route.Delivery.Format is not (RequestFormat.Json or RequestFormat.CloudEvents))
            r.Error("batch_size", batchSize?.ToString(CultureInfo.InvariantCulture), "must be 1 unless format is json or cloudevents: a batch is sent as a JSON array of envelopes or of CloudEvents");
        else if (route.Delivery.BatchSize > route.Delivery.MaxPending)
            r.Error("batch_size", batchSize?.ToString(CultureInfo.InvariantCulture), string.Create(CultureInfo.InvariantCulture,
                $"must not exceed max_pending ({route.Delivery.MaxPending}): a batch is made of one partition's pending messages"));
        if (linger is not null && route.Delivery.BatchSize == 1)
            r.Error("batch_linger_ms", linger.Value.ToString(CultureInfo.InvariantCulture), "applies only with batch_size > 1");
        return route;
    }

    /// <summary>
    /// The keys of the delivery policy: backoff, permanent statuses, rate and adaptive concurrency, shared budget and
    /// dead-letter topic, and the rules between them.
    /// </summary>
    private static RouteDefinition ReadPolicyKeys(MapReader r, RouteDefinition route, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits)
    {
        var before = r.ErrorCount;
        var backoff = r.Choice(RetrySettings.BackoffKey);
        var maxInterval = r.Int(RetrySettings.RetryMaxIntervalMsKey);
        var skipOn = r.IntList(RetrySettings.SkipOnStatusKey);
        var rate = r.Int(DeliverySettings.MaxRequestsPerSecondKey);
        var adaptive = r.Bool(DeliverySettings.AdaptiveConcurrencyKey);
        var limit = r.String(DeliverySettings.LimitKey);
        var deadLetterTopic = r.String(DeadLetterSettings.TopicKey);
        var deadLetterCluster = r.String(DeadLetterSettings.ClusterKey);
        route = route with
        {
            Retry = route.Retry with
            {
                Backoff = backoff == "exponential" ? RetryBackoff.Exponential : RouteDefaults.Backoff,
                RetryMaxIntervalMs = maxInterval ?? RouteDefaults.RetryMaxIntervalMs,
                SkipOnStatus = skipOn is null ? new HashSet<int>() : new HashSet<int>(skipOn),
            },
            Delivery = route.Delivery with
            {
                MaxRequestsPerSecond = rate,
                AdaptiveConcurrency = adaptive ?? false,
                Limit = limit,
            },
            DeadLetter = new DeadLetterSettings { Topic = deadLetterTopic, Cluster = deadLetterCluster },
        };
        if (r.ErrorCount != before)
            return route;

        string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
        if (maxInterval is not null && maxInterval < route.Retry.RetryIntervalMs)
            r.Error("retry_max_interval_ms", Text(maxInterval.Value), $"must not be less than retry_interval_ms ({Text(route.Retry.RetryIntervalMs)})");
        else if (maxInterval is null && route.Retry.RetryIntervalMs > RouteDefaults.RetryMaxIntervalMs)
            r.Error("retry_interval_ms", Text(route.Retry.RetryIntervalMs), $"is over the default retry_max_interval_ms ({Text(RouteDefaults.RetryMaxIntervalMs)}); set retry_max_interval_ms to at least retry_interval_ms");
        if (adaptive == true && route.Delivery.AsyncConcurrency == 0)
            r.Error("adaptive_concurrency", "true", "applies only with async_concurrency > 0, which is its upper bound");
        if (limit is not null && limits is not null && !limits.ContainsKey(limit))
        {
            var defined = limits.Count == 0 ? "none (kcp.yaml has no 'limits')" : string.Join(", ", limits.Keys.Order(StringComparer.Ordinal));
            r.Error("limit", limit, $"unknown shared budget; budgets defined in kcp.yaml's limits: {defined}");
        }

        if (deadLetterTopic is not null && !IsKafkaTopicName(deadLetterTopic))
            r.Error("dead_letter_topic", deadLetterTopic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        else if (deadLetterTopic == route.Topic && (deadLetterCluster ?? route.Cluster) == route.Cluster)
            r.Error("dead_letter_topic", deadLetterTopic, "must not be the route's own topic on its own cluster: skipped messages would be consumed again");
        if (deadLetterCluster is not null && deadLetterTopic is null)
            r.Error("dead_letter_cluster", deadLetterCluster, "applies only with dead_letter_topic");
        else if (deadLetterCluster is not null && clusters is not null && !clusters.ContainsKey(deadLetterCluster))
            r.Error("dead_letter_cluster", deadLetterCluster, $"unknown cluster; defined clusters: {string.Join(", ", clusters.Keys.Order(StringComparer.Ordinal))}");
        return route;
    }

    /// <summary>The longest <c>cloudevents_type</c>: 1024 characters, far more than a reverse-DNS type name needs.</summary>
    private const int MaxCloudEventsTypeLength = 1024;

    /// <summary>
    /// <c>cloudevents_type</c> and the rules of <c>format: cloudevents</c>: the type is text that can be sent as the
    /// <c>ce-type</c> header (percent-encoded where the HTTP binding asks for it), and static <c>headers</c> must not
    /// set the <c>ce-*</c> headers that carry the event's attributes.
    /// </summary>
    private static RouteDefinition ReadCloudEventsKeys(MapReader r, RouteDefinition route)
    {
        var before = r.ErrorCount;
        var type = r.String(DeliverySettings.CloudEventsTypeKey);
        if (r.ErrorCount != before)
            return route;

        if (type is not null && route.Delivery.Format != RequestFormat.CloudEvents)
            r.Error("cloudevents_type", type, "applies only with format: cloudevents");
        else if (type is not null && CloudEventsTypeProblem(type) is { } problem)
            r.Error("cloudevents_type", type, problem);
        if (route.Delivery.Format == RequestFormat.CloudEvents)
        {
            if (CloudEventSource.Problem(route.Cluster, route.Topic) is { } sourceProblem)
                r.Error("cluster", route.Cluster, sourceProblem);
            foreach (var header in route.Endpoint.Headers.Where(h => h.Key.StartsWith("ce-", StringComparison.OrdinalIgnoreCase)))
                r.Error($"headers.{header.Key}", null, "must not be set with format: cloudevents, whose ce-* headers carry the event's attributes");
        }

        return type is null ? route : route with { Delivery = route.Delivery with { CloudEventsType = type } };
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
