using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Loads the main config file and every route file of its <c>routes_dir</c>, validating all of it before anything
/// starts. Every error is collected (never only the first), each naming the file, the key and the bad value.
/// Scalars are accepted when their text parses as the expected type, whether quoted or not. Values are checked with
/// the rule that will be applied to them: requests are built by the delivery code, librdkafka checks the consumer
/// settings (offline), and <c>state_dir</c> is tested by creating and removing a directory. Nothing else is written.
/// </summary>
public static partial class ConfigLoader
{
    private static readonly string[] RouteExtensions = [".yaml", ".yml", ".json"];
    private static readonly string[] ResponseChecks = ["errno", "status"];
    private static readonly string[] Orderings = ["key", "none"];
    private static readonly string[] Formats = ["form", "json", "raw", "cloudevents"];
    private static readonly string[] Backoffs = ["constant", "exponential"];

    // What char.IsControl matches, for messages: librdkafka cuts a name at a NUL, and a log would show other names.
    private const string ControlCharacters = "control characters (U+0000 to U+001F, U+007F to U+009F)";

    /// <summary>Loads and validates the configuration.</summary>
    /// <exception cref="ConfigException">The configuration has one or more errors; all of them are listed.</exception>
    public static KcpConfig Load(string configPath)
    {
        var (config, errors) = TryLoad(configPath);
        return config ?? throw new ConfigException(errors);
    }

    /// <summary>Loads and validates the configuration; <c>Config</c> is null exactly when <c>Errors</c> is not empty.</summary>
    public static (KcpConfig? Config, IReadOnlyList<ConfigError> Errors) TryLoad(string configPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configPath);
        var file = Path.GetFullPath(configPath);
        var errors = new List<ConfigError>();
        if (!File.Exists(file))
        {
            errors.Add(new ConfigError(file, null, null, Directory.Exists(file) ? "is a directory, not a config file" : "config file not found"));
            return (null, errors);
        }

        var root = ConfigTree.Parse(file, errors);
        if (root is null)
            return (null, errors);
        root = SecretReferences.Resolve(file, root, errors);

        var baseDir = Path.GetDirectoryName(file)!;
        var main = new MapReader(file, root, errors);
        var clusters = ReadClusters(main, errors);
        var routesDir = ResolveDirectory(main, "routes_dir", "routes", baseDir, mustExist: true);
        var stateDir = ResolveDirectory(main, "state_dir", "state", baseDir, mustExist: false);
        var admin = ReadAdmin(main, errors, baseDir);
        var limits = ReadLimits(main, errors);
        var telemetry = ReadTelemetry(main, errors);
        main.ReportUnknownKeys();

        var routes = routesDir is null ? [] : LoadRoutes(routesDir, clusters, limits, errors);
        if (routesDir is not null && routes.Count == 0 && errors.Count == 0)
            main.Error("routes_dir", main.WrittenOrDefault("routes_dir", "routes"), $"holds no route file (*.yaml, *.yml or *.json) in {routesDir}; kcp needs at least one route");
        if (stateDir is not null)
            CheckStateDir(main, stateDir, routes, errors);

        // Only once every property passed on its own: what is left are librdkafka's checks between properties.
        if (errors.Count == 0)
        {
            foreach (var route in routes)
            {
                if (LibrdkafkaCheck.ConsumerProblem(ConsumerSettings.Create(route, clusters![route.Cluster], 0)) is { } problem)
                {
                    errors.Add(new ConfigError(route.SourceFile, "consumer_conf", null,
                        $"librdkafka refuses the route's consumer settings (cluster '{route.Cluster}' consumer_conf, then this file's consumer_conf and consumer_topic_conf): {problem}"));
                }
            }
        }

        if (errors.Count > 0)
            return (null, errors);

        return (new KcpConfig
        {
            ConfigFile = file,
            Clusters = clusters!,
            RoutesDir = routesDir!,
            StateDir = stateDir!,
            Routes = routes,
            Admin = admin!,
            Limits = limits ?? [],
            Telemetry = telemetry!,
        }, errors);
    }

    // Returns null when `clusters` itself is unusable, so that routes are not also blamed for naming a cluster.
    private static Dictionary<string, ClusterDefinition>? ReadClusters(MapReader main, List<ConfigError> errors)
    {
        var node = main.Mapping("clusters", required: true, "a mapping of cluster names to {bootstrap_servers, consumer_conf}");
        if (node is null)
            return null;
        if (node.Entries.Count == 0)
            main.Error("clusters", null, "must define at least one cluster");

        // Invalid clusters are still listed (the config is discarded anyway) so that routes naming them get no extra error.
        var clusters = new Dictionary<string, ClusterDefinition>(StringComparer.Ordinal);
        foreach (var (name, value) in node.Entries)
        {
            if (name.Any(char.IsControl))
                main.Error($"clusters.{name}", null, $"a cluster name must not contain {ControlCharacters}");
            if (value is not MappingNode clusterNode)
            {
                main.Error($"clusters.{name}", null, $"must be a mapping with bootstrap_servers and optional consumer_conf, got {value.Kind}");
                clusters[name] = new ClusterDefinition(name, "", ReadOnlyDictionary<string, string>.Empty);
                continue;
            }

            var reader = new MapReader(main.File, clusterNode, errors, $"clusters.{name}.");
            var servers = reader.RequiredString("bootstrap_servers");
            if (servers.Length > 0 && EndpointRules.BootstrapProblem(servers) is { } serversProblem)
                reader.Error("bootstrap_servers", servers, serversProblem);
            var conf = reader.Conf("consumer_conf");
            reader.ReportUnknownKeys();
            clusters[name] = new ClusterDefinition(name, servers, conf);
        }

        return clusters;
    }

    /// <summary>
    /// <c>limits</c>: shared budgets that routes name with <c>limit</c>. Returns null when the key itself is unusable,
    /// so that routes are not also blamed for naming a budget.
    /// </summary>
    private static Dictionary<string, LimitDefinition>? ReadLimits(MapReader main, List<ConfigError> errors)
    {
        var before = errors.Count;
        var node = main.Mapping("limits", required: false, "a mapping of budget names to {max_requests_per_second, max_concurrency}");
        var limits = new Dictionary<string, LimitDefinition>(StringComparer.Ordinal);
        if (node is null)
            return errors.Count == before ? limits : null;

        foreach (var (name, value) in node.Entries)
        {
            if (value is not MappingNode limitNode)
            {
                main.Error($"limits.{name}", null, $"must be a mapping with max_requests_per_second and/or max_concurrency, got {value.Kind}");
                limits[name] = new LimitDefinition(name, null, null);
                continue;
            }

            var reader = new MapReader(main.File, limitNode, errors, $"limits.{name}.");
            var rate = reader.Int("max_requests_per_second", 1, RouteDefaults.MaxRequestsPerSecondLimit, required: false);
            var concurrency = reader.Int("max_concurrency", 1, 100_000, required: false);
            if (!limitNode.Entries.Any(e => e.Key is "max_requests_per_second" or "max_concurrency"))
                main.Error($"limits.{name}", null, "must set max_requests_per_second, max_concurrency or both");
            reader.ReportUnknownKeys();
            limits[name] = new LimitDefinition(name, rate, concurrency);
        }

        return limits;
    }

    private static string? ResolveDirectory(MapReader main, string key, string defaultValue, string baseDir, bool mustExist)
    {
        var before = main.ErrorCount;
        var written = main.OptionalString(key);
        if (main.ErrorCount != before)
            return null;

        var path = Path.GetFullPath(Path.Combine(baseDir, written ?? defaultValue));
        if (!Directory.Exists(path) && new FileInfo(path) is { LinkTarget: { } target } link && link.ResolveLinkTarget(returnFinalTarget: true) is null or { Exists: false })
            main.Error(key, written ?? defaultValue, $"cannot be created: {path} is a symbolic link to {target}, which does not exist");
        else if (File.Exists(path))
            main.Error(key, written ?? defaultValue, $"must be a directory, but {path} is a file");
        else if (mustExist && !Directory.Exists(path))
            main.Error(key, written ?? defaultValue, $"directory not found: {path}");
        return main.ErrorCount == before ? path : null;
    }

    private static void CheckStateDir(MapReader main, string stateDir, IReadOnlyList<RouteDefinition> routes, List<ConfigError> errors)
    {
        if (StateDirRules.Problem(stateDir) is { } problem)
            main.Error("state_dir", main.WrittenOrDefault("state_dir", "state"), problem);

        foreach (var route in routes)
        {
            if (StateDirRules.RecordNameProblem(route) is var (key, value, message))
                errors.Add(new ConfigError(route.SourceFile, key, value, message));
        }
    }

    private static List<RouteDefinition> LoadRoutes(string routesDir, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors)
    {
        string[] files;
        try
        {
            // Dot-files are skipped: editors and macOS leave ._orders.yaml style companions that are not routes.
            // Directories, FIFOs and devices with a route file's name are listed too, so that they are reported.
            files = [.. Directory.EnumerateFileSystemEntries(routesDir)
                .Where(f => !Path.GetFileName(f).StartsWith('.')
                    && RouteExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add(new ConfigError(routesDir, null, null, $"cannot list route files: {e.Message}"));
            return [];
        }

        var routes = new List<RouteDefinition>();
        var fileByName = new Dictionary<string, string>(StringComparer.Ordinal);
        var routeByPair = new Dictionary<(string Topic, string Group), RouteDefinition>();
        foreach (var file in files)
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var duplicateName = fileByName.TryGetValue(name, out var firstFile);
            var badName = name.Any(char.IsControl);
            if (badName)
            {
                // Reported with the file's other errors; the route is not added, so no other file is blamed for it.
                errors.Add(new ConfigError(file, null, null,
                    $"route name '{name}' must not contain {ControlCharacters}; a route's name is its file name without extension"));
            }
            else if (duplicateName)
            {
                errors.Add(new ConfigError(file, null, null,
                    $"route name '{name}' is also used by {ConfigError.DisplayPath(firstFile!, Environment.CurrentDirectory)}; a route's name is its file name without extension and must be unique"));
            }
            else
            {
                fileByName[name] = file;
            }

            var route = ReadRoute(file, name, clusters, limits, errors);
            if (route is null || duplicateName || badName)
                continue;

            if (routeByPair.TryGetValue((route.Topic, route.Group), out var first))
            {
                errors.Add(new ConfigError(file, "topic", route.Topic,
                    $"topic '{route.Topic}' with group '{route.Group}' is already consumed by route '{first.Name}' ({ConfigError.DisplayPath(first.SourceFile, Environment.CurrentDirectory)}); each (topic, group) pair may have only one route"));
                continue;
            }

            routeByPair[(route.Topic, route.Group)] = route;
            routes.Add(route);
        }

        return routes;
    }

    private static RouteDefinition? ReadRoute(string file, string name, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors)
    {
        var root = ConfigTree.Parse(file, errors);
        if (root is null)
            return null;
        root = SecretReferences.Resolve(file, root, errors);

        var before = errors.Count;
        var r = new MapReader(file, root, errors);
        var topic = r.RequiredString("topic");
        if (topic.Length > 0 && !IsKafkaTopicName(topic))
            r.Error("topic", topic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        var group = r.RequiredString("group");
        if (group.Any(char.IsControl))
            r.Error("group", group, $"must be a consumer group id without {ControlCharacters}");

        var beforeCluster = errors.Count;
        var cluster = r.OptionalString("cluster");
        if (clusters is not null && errors.Count == beforeCluster && !clusters.ContainsKey(cluster ?? RouteDefaults.Cluster))
        {
            var defined = clusters.Count == 0 ? "none" : string.Join(", ", clusters.Keys.Order(StringComparer.Ordinal));
            var implicitNote = cluster is null ? $" (the route has no 'cluster' key, so it uses '{RouteDefaults.Cluster}')" : "";
            r.Error("cluster", cluster ?? RouteDefaults.Cluster, $"unknown cluster; defined clusters: {defined}{implicitNote}");
        }

        var hostText = r.RequiredString("host");
        var hosts = hostText.Split(',', StringSplitOptions.TrimEntries);
        var port = r.Int("port", 1, 65535, required: true);
        if (hostText.Length > 0 && hosts.Any(h => h.Length == 0 || h.Contains("://", StringComparison.Ordinal) || h.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            r.Error("host", hostText, "must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path");
        }
        else if (hostText.Length > 0)
        {
            foreach (var problem in hosts.Select(h => EndpointRules.HostEntryProblem(h)).OfType<string>())
                r.Error("host", hostText, problem);
        }

        var url = r.RequiredString("url");
        if (url.Length > 0 && !url.StartsWith('/'))
            r.Error("url", url, "must be a path starting with '/'");
        else if (url.Length > 0 && EndpointRules.UrlProblem(url) is { } urlProblem)
            r.Error("url", url, urlProblem);

        var domain = r.OptionalString("domain");
        if (domain is not null && EndpointRules.DomainProblem(domain) is { } domainProblem)
            r.Error("domain", domain, domainProblem);

        // Read in this order: errors are listed, and unknown keys matched, in the order keys are read.
        var concurrency = r.Int("concurrency", 1, 256, required: true) ?? 0;
        var canSkip = r.Bool("can_skip", required: true) ?? false;
        var retryNums = r.Int("retry_nums", 0, int.MaxValue, required: true) ?? 0;
        var retryIntervalMs = r.Int("retry_interval_ms", 0, int.MaxValue, required: true) ?? 0;
        var connTimeoutMs = r.Int("conn_timeout_ms", 1, int.MaxValue, required: true) ?? 0;
        var execTimeoutMs = r.Int("exec_timeout_ms", 1, int.MaxValue, required: true) ?? 0;
        var useSavedOffsetTime = r.Int("use_saved_offset_time", int.MinValue, int.MaxValue, required: true) ?? 0;
        var slowTimeMs = r.Int("slow_time_ms", 1, int.MaxValue, required: false);
        var consumerConf = r.Conf("consumer_conf");
        var consumerTopicConf = r.Conf("consumer_topic_conf");
        var asyncConcurrency = r.Int("async_concurrency", 0, 10000, required: false) ?? 0;
        var guarantees = (DeliveryGuarantee)(r.Int("message_delivery_guarantees", 1, 3, required: false) ?? (int)RouteDefaults.MessageDeliveryGuarantees);
        var responseCheck = r.Choice("response_check", ResponseChecks) switch
        {
            "status" => ResponseCheck.Status,
            "errno" => ResponseCheck.Errno,
            _ => RouteDefaults.ResponseCheck,
        };
        var commitIntervalMs = r.Int("commit_interval_ms", 1, 3_600_000, required: false) ?? RouteDefaults.CommitIntervalMs;
        var maxUncommitted = r.Int("max_uncommitted", 0, RouteDefaults.MaxMaxUncommitted, required: false) ?? RouteDefaults.MaxUncommitted;
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
        route = ReadSecurityKeys(r, route, errors);
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
        var ordering = r.Choice("ordering", Orderings);
        var maxPending = r.Int("max_pending", 1, 1_000_000, required: false);
        var maxPendingBytes = r.Int("max_pending_bytes", RouteDefaults.MinPendingBytes, RouteDefaults.MaxMaxPendingBytes, required: false);
        var format = r.Choice("format", Formats);
        var contentType = r.OptionalString("content_type");
        var batchSize = r.Int("batch_size", 1, 10_000, required: false);
        var linger = r.Int("batch_linger_ms", 0, 60_000, required: false);
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
        var backoff = r.Choice("retry_backoff", Backoffs);
        var maxInterval = r.Int("retry_max_interval_ms", 1, 86_400_000, required: false);
        var skipOn = r.IntList("skip_on_status", 100, 599);
        var rate = r.Int("max_requests_per_second", 1, RouteDefaults.MaxRequestsPerSecondLimit, required: false);
        var adaptive = r.Bool("adaptive_concurrency", required: false);
        var limit = r.OptionalString("limit");
        var deadLetterTopic = r.OptionalString("dead_letter_topic");
        var deadLetterCluster = r.OptionalString("dead_letter_cluster");
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

    /// <summary>
    /// Reads typed values from one mapping and reports what is wrong with them. Every key read is remembered as
    /// known, so the keys left over are the unknown ones. Typed readers return null when the key is absent (or null
    /// in the file) or invalid; the caller discards the whole object when any error was added.
    /// </summary>
    private sealed class MapReader(string file, MappingNode map, List<ConfigError> errors, string keyPrefix = "")
    {
        private const int MaxSuggestionDistance = 3;
        private readonly List<string> _known = [];

        public string File => file;

        public int ErrorCount => errors.Count;

        /// <summary>The text written for <paramref name="key"/>, or <paramref name="defaultValue"/> when it is not a scalar.</summary>
        public string WrittenOrDefault(string key, string defaultValue) => Find(key) is ScalarNode { IsNull: false } s ? s.Text : defaultValue;

        public void Error(string key, string? value, string message) =>
            errors.Add(new ConfigError(file, keyPrefix + key, SecretRedactor.Redact(key, value), message));

        public string RequiredString(string key) => String(key, required: true) ?? "";

        public string? OptionalString(string key) => String(key, required: false);

        public int? Int(string key, int min, int max, bool required)
        {
            var expected = min == int.MinValue && max == int.MaxValue
                ? "an integer"
                : string.Create(CultureInfo.InvariantCulture, $"an integer from {min} to {max}");
            var scalar = Scalar(key, required, expected);
            if (scalar is null)
                return null;
            if (int.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
                return value;
            Error(key, scalar.Text, $"must be {expected}");
            return null;
        }

        public bool? Bool(string key, bool required)
        {
            var scalar = Scalar(key, required, "true or false");
            if (scalar is null)
                return null;
            if (scalar.Text.Equals("true", StringComparison.OrdinalIgnoreCase))
                return true;
            if (scalar.Text.Equals("false", StringComparison.OrdinalIgnoreCase))
                return false;
            Error(key, scalar.Text, "must be true or false");
            return null;
        }

        /// <summary>A list of integers from <paramref name="min"/> to <paramref name="max"/> (<c>[400, 404]</c>); null when absent or invalid.</summary>
        public IReadOnlyList<int>? IntList(string key, int min, int max)
        {
            _known.Add(key);
            var expected = string.Create(CultureInfo.InvariantCulture, $"a list of integers from {min} to {max}, e.g. [400, 404]");
            var node = Find(key);
            if (node is null or ScalarNode { IsNull: true })
                return null;
            if (node is not SequenceNode sequence)
            {
                Error(key, node is ScalarNode s ? s.Text : null, $"must be {expected}, got {node.Kind}");
                return null;
            }

            var values = new List<int>();
            foreach (var item in sequence.Items)
            {
                if (item is ScalarNode { IsNull: false } scalar
                    && int.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
                {
                    values.Add(value);
                    continue;
                }

                Error(key, item is ScalarNode bad ? bad.Text : null, $"must be {expected}; this entry is not");
                return null;
            }

            return values;
        }

        /// <summary>A list of non-empty strings (<c>[a, b]</c>); null when absent or invalid.</summary>
        public IReadOnlyList<string>? StringList(string key)
        {
            _known.Add(key);
            var node = Find(key);
            if (node is null or ScalarNode { IsNull: true })
                return null;
            if (node is not SequenceNode sequence)
            {
                Error(key, node is ScalarNode s ? s.Text : null, $"must be a list of strings, e.g. [a, b], got {node.Kind}");
                return null;
            }

            var values = new List<string>();
            foreach (var item in sequence.Items)
            {
                if (item is not ScalarNode { IsNull: false } scalar || string.IsNullOrWhiteSpace(scalar.Text))
                {
                    Error(key, item is ScalarNode bad ? bad.Text : null, "must be a list of non-empty strings; this entry is not");
                    return null;
                }

                values.Add(scalar.Text);
            }

            return values;
        }

        /// <summary>One of <paramref name="choices"/> (matched case-insensitively), returned as spelled in the list.</summary>
        public string? Choice(string key, string[] choices)
        {
            var expected = $"one of: {string.Join(", ", choices)}";
            var scalar = Scalar(key, required: false, expected);
            if (scalar is null)
                return null;
            var match = Array.Find(choices, c => c.Equals(scalar.Text, StringComparison.OrdinalIgnoreCase));
            if (match is null)
                Error(key, scalar.Text, $"must be {expected}");
            return match;
        }

        public MappingNode? Mapping(string key, bool required, string expected)
        {
            _known.Add(key);
            var node = Find(key);
            if (node is null or ScalarNode { IsNull: true })
            {
                if (required)
                    Error(key, null, $"required key is missing; must be {expected}");
                return null;
            }

            if (node is MappingNode mapping)
                return mapping;
            Error(key, null, $"must be {expected}, got {node.Kind}");
            return null;
        }

        /// <summary>A librdkafka property map; values become strings, plain true/false in lower case.</summary>
        public IReadOnlyDictionary<string, string> Conf(string key)
        {
            // The whole value is never shown when it is not a mapping: `sasl.password=...` may be written inline.
            var node = Mapping(key, required: false, "a mapping of librdkafka property names to string, number or bool values");
            if (node is null)
                return ReadOnlyDictionary<string, string>.Empty;

            var conf = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (property, value) in node.Entries)
            {
                var path = $"{keyPrefix}{key}.{property}";
                if (property.Length == 0)
                    errors.Add(new ConfigError(file, $"{keyPrefix}{key}", null, "property names must not be empty"));
                else if (ReservedProperty(property) is { } setBy)
                    errors.Add(new ConfigError(file, path, value is ScalarNode r ? SecretRedactor.Redact(property, r.Text) : null,
                        $"'{property}' is set by kcp {setBy}; remove it from {key}"));
                else if (value is ScalarNode { IsNull: false } scalar)
                    conf[property] = !scalar.IsQuoted && bool.TryParse(scalar.Text, out var b) ? (b ? "true" : "false") : scalar.Text;
                else
                    errors.Add(new ConfigError(file, path, value is ScalarNode s ? SecretRedactor.Redact(property, s.Text) : null,
                        $"must be a string, number or bool, got {value.Kind}"));
            }

            // A secret pasted into the wrong property shows up in librdkafka's reason and as the value: both hide
            // every secret value of the mapping, as the consumer's own error messages do at run time.
            var secrets = conf.Where(p => SecretRedactor.IsSecretKey(p.Key) && p.Value.Length > 0).Select(p => p.Value).ToList();
            string Hide(string text) => secrets.Aggregate(text, (t, secret) => t.Replace(secret, SecretRedactor.Mask, StringComparison.Ordinal));
            foreach (var (property, text) in conf)
            {
                if (LibrdkafkaCheck.PropertyProblem(property, text) is { } problem)
                    errors.Add(new ConfigError(file, $"{keyPrefix}{key}.{property}", Hide(SecretRedactor.Redact(property, text)), $"rejected by librdkafka: {Hide(problem)}"));
            }

            return conf;
        }

        /// <summary>
        /// Where kcp takes the value of a librdkafka property it controls itself, or null when
        /// <paramref name="property"/> is free to set. Matched case-insensitively, aliases included: a user who
        /// writes <c>Group.Id</c> means the group, and learns here rather than from librdkafka at startup.
        /// </summary>
        private string? ReservedProperty(string property) => property.ToLowerInvariant() switch
        {
            "group.id" => "from the route key 'group'",
            "bootstrap.servers" or "metadata.broker.list" => keyPrefix.Length > 0
                ? $"from '{keyPrefix}bootstrap_servers'"
                : "from the bootstrap_servers of the route's cluster (clusters.<name>.bootstrap_servers)",
            "enable.auto.commit" or "auto.commit.enable" or "enable.auto.offset.store" =>
                "(always false): an offset is stored and committed only after its message was delivered or skipped",
            "enable.partition.eof" => "(always false): the consume loop has no use for end-of-partition events",
            _ => null,
        };

        public void ReportUnknownKeys()
        {
            foreach (var (key, _) in map.Entries)
            {
                if (_known.Contains(key))
                    continue;
                var suggestion = _known
                    .Select(k => (Key: k, Distance: Levenshtein(key.ToLowerInvariant(), k)))
                    .Where(c => c.Distance <= MaxSuggestionDistance && c.Distance < key.Length)
                    .OrderBy(c => c.Distance)
                    .Select(c => c.Key)
                    .FirstOrDefault();
                Error(key, null, suggestion is null ? "unknown key" : $"unknown key; did you mean '{suggestion}'?");
            }
        }

        private string? String(string key, bool required)
        {
            var scalar = Scalar(key, required, "a non-empty string");
            if (scalar is null)
                return null;
            if (!string.IsNullOrWhiteSpace(scalar.Text))
                return scalar.Text;
            Error(key, scalar.Text, "must be a non-empty string");
            return null;
        }

        // An explicit null (`key:` or `key: ~`) of an optional key means "use the default", as YAML users expect.
        private ScalarNode? Scalar(string key, bool required, string expected)
        {
            _known.Add(key);
            var node = Find(key);
            switch (node)
            {
                case null:
                    if (required)
                        Error(key, null, $"required key is missing; must be {expected}");
                    return null;
                case ScalarNode { IsNull: true } nullNode:
                    if (required)
                        Error(key, nullNode.Text, $"must be {expected}");
                    return null;
                case ScalarNode scalar:
                    return scalar;
                default:
                    Error(key, null, $"must be {expected}, got {node.Kind}");
                    return null;
            }
        }

        private ConfigNode? Find(string key)
        {
            foreach (var (k, v) in map.Entries)
            {
                if (k == key)
                    return v;
            }

            return null;
        }

        private static int Levenshtein(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (var j = 0; j <= b.Length; j++)
                previous[j] = j;
            for (var i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                }

                (previous, current) = (current, previous);
            }

            return previous[b.Length];
        }
    }
}

/// <summary>A format-neutral document tree, so that YAML and JSON files are validated by the same code.</summary>
internal abstract record ConfigNode
{
    /// <summary>"a string", "a mapping", ... for messages such as "must be an integer, got a mapping".</summary>
    public abstract string Kind { get; }
}

/// <summary>A scalar's text as written; <paramref name="IsQuoted"/> for quoted YAML and JSON strings.</summary>
internal sealed record ScalarNode(string Text, bool IsQuoted, bool IsNull) : ConfigNode
{
    public override string Kind => IsNull ? "null" : "a scalar";
}

/// <summary>Keys in file order; duplicates were reported while building the tree.</summary>
internal sealed record MappingNode(IReadOnlyList<KeyValuePair<string, ConfigNode>> Entries) : ConfigNode
{
    public override string Kind => "a mapping";
}

/// <summary>A list; its items in file order.</summary>
internal sealed record SequenceNode(IReadOnlyList<ConfigNode> Items) : ConfigNode
{
    public override string Kind => "a sequence";
}

/// <summary>
/// Parses a .yaml/.yml (YamlDotNet parser events) or .json (JsonDocument) file into a <see cref="MappingNode"/>.
/// A YAML alias shares the node of its anchor instead of copying it, and the size the document would have with every
/// alias expanded is counted and bounded by <see cref="MaxExpandedNodes"/>, so an alias bomb (anchors of anchors,
/// a few hundred bytes that would expand to gigabytes) is refused at once instead of taking the process down.
/// </summary>
internal static class ConfigTree
{
    /// <summary>100,000: nodes a YAML document may hold with every alias expanded; a route file holds a few dozen.</summary>
    public const int MaxExpandedNodes = 100_000;

    // Deeper nesting has no use in a config file.
    private const int MaxDepth = 32;

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The file's top-level mapping, or null after adding the reason to <paramref name="errors"/>.</summary>
    public static MappingNode? Parse(string file, List<ConfigError> errors)
    {
        var text = ConfigFile.ReadText(file, errors);
        if (text is null)
            return null;

        var root = Path.GetExtension(file).Equals(".json", StringComparison.OrdinalIgnoreCase)
            ? ParseJson(file, text, errors)
            : ParseYaml(file, text, errors);
        if (root is null or MappingNode)
            return (MappingNode?)root;
        errors.Add(new ConfigError(file, null, null, $"the top level must be a mapping of keys to values, got {root.Kind}"));
        return null;
    }

    private static ConfigNode? ParseYaml(string file, string text, List<ConfigError> errors)
    {
        var parser = new PositionTrackingParser(new Parser(new StringReader(text)));
        try
        {
            return new YamlTreeBuilder(file, parser, errors).ReadStream();
        }
        catch (YamlException e)
        {
            errors.Add(new ConfigError(file, null, null, $"cannot parse YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}"));
            return null;
        }
        catch (YamlTreeException e)
        {
            errors.Add(new ConfigError(file, null, null, $"cannot parse YAML at line {e.At.Line}, column {e.At.Column}: {e.Message}"));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet 16 throws this without a position for some malformed flow collections (`a: [1` + newline + `b: 2`).
            errors.Add(new ConfigError(file, null, null,
                $"cannot parse YAML after line {parser.LastGood.Line}, column {parser.LastGood.Column}: malformed content (unclosed '[' or '{{'?)"));
            return null;
        }
    }

    /// <summary>A document that cannot become a config tree, at a position of the file.</summary>
    private sealed class YamlTreeException(Mark at, string message) : Exception(message)
    {
        public Mark At { get; } = at;
    }

    /// <summary>Builds the tree from parser events, counting the nodes the document would have with aliases expanded.</summary>
    private sealed class YamlTreeBuilder(string file, IParser parser, List<ConfigError> errors)
    {
        private readonly Dictionary<string, (ConfigNode Node, long Size)> _anchors = new(StringComparer.Ordinal);
        private long _expanded;
        private bool _aliases;

        public ConfigNode? ReadStream()
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                errors.Add(new ConfigError(file, null, null, "the file is empty; expected a mapping of keys to values"));
                return null;
            }

            parser.Consume<DocumentStart>();
            var (root, _) = ReadNode("", 0);
            parser.Consume<DocumentEnd>();
            var documents = 1;
            while (parser.TryConsume<DocumentStart>(out _))
            {
                documents++;
                Skip();
                parser.Consume<DocumentEnd>();
            }

            parser.Consume<StreamEnd>();
            if (documents == 1)
                return root;
            errors.Add(new ConfigError(file, null, null, string.Create(CultureInfo.InvariantCulture, $"the file holds {documents} YAML documents; expected one")));
            return null;
        }

        private (ConfigNode Node, long Size) ReadNode(string path, int depth)
        {
            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                    throw new YamlTreeException(alias.Start, $"alias *{alias.Value.Value} does not name a complete anchor defined before it");
                _aliases = true;
                Count(target.Size, alias.Start);
                return target;
            }

            if (depth > MaxDepth)
            {
                // Parsing stops here: YamlDotNet's scanner spends time in proportion to the nesting on every token,
                // so a megabyte of '[' would take many minutes to read to its end.
                throw new YamlTreeException(parser.Current!.Start,
                    $"nested deeper than {MaxDepth} levels" + (path.Length == 0 ? "" : $" (under '{path}')"));
            }

            var anchor = parser.Current is NodeEvent { Anchor.IsEmpty: false } node ? node.Anchor.Value : null;
            var read = ReadValue(path, depth);
            if (anchor is not null)
                _anchors[anchor] = read;
            return read;
        }

        private (ConfigNode Node, long Size) ReadValue(string path, int depth)
        {
            if (parser.TryConsume<Scalar>(out var scalar))
            {
                Count(1, scalar.Start);
                var value = scalar.Value ?? "";
                var isPlain = scalar.Style is ScalarStyle.Plain or ScalarStyle.Any;
                var isNull = isPlain && value is "" or "~" or "null" or "Null" or "NULL";
                return (new ScalarNode(value, !isPlain, isNull), 1);
            }

            if (parser.TryConsume<SequenceStart>(out var sequence))
            {
                Count(1, sequence.Start);
                long size = 1;
                var items = new List<ConfigNode>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    var (item, itemSize) = ReadNode(path, depth + 1);
                    items.Add(item);
                    size = Add(size, itemSize);
                }

                return (new SequenceNode(items), size);
            }

            var mapping = parser.Consume<MappingStart>();
            Count(1, mapping.Start);
            long total = 1;
            var entries = new List<KeyValuePair<string, ConfigNode>>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyStart = parser.Current!.Start;
                var (key, keySize) = ReadNode(path, depth + 1);
                var name = (key as ScalarNode)?.Text;
                var (value, valueSize) = ReadNode(name is null ? path : Join(path, name), depth + 1);
                total = Add(Add(total, keySize), valueSize);
                if (name is null)
                {
                    errors.Add(new ConfigError(file, path.Length == 0 ? null : path, null,
                        $"keys must be strings; found a complex key at line {keyStart.Line}, column {keyStart.Column}"));
                    continue;
                }

                if (!seen.Add(name))
                    throw new YamlTreeException(keyStart, $"Duplicate key {name}");
                entries.Add(new(name, value));
            }

            return (new MappingNode(entries), total);
        }

        // Every node read and every node an alias stands for counts, so the total is the size of the expanded document.
        private void Count(long nodes, Mark at)
        {
            _expanded = Add(_expanded, nodes);
            if (_expanded > MaxExpandedNodes)
            {
                throw new YamlTreeException(at, _aliases
                    ? string.Create(CultureInfo.InvariantCulture, $"the document expands to more than {MaxExpandedNodes} nodes through aliases (an alias bomb?); a config file may hold at most {MaxExpandedNodes}")
                    : string.Create(CultureInfo.InvariantCulture, $"the document holds more than {MaxExpandedNodes} nodes; a config file may hold at most {MaxExpandedNodes}"));
            }
        }

        private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

        // Consumes one node and everything inside it without building anything.
        private void Skip()
        {
            var nesting = 0;
            do
            {
                var current = parser.Current ?? throw new YamlTreeException(Mark.Empty, "unexpected end of the document");
                nesting += current.NestingIncrease;
                parser.MoveNext();
            }
            while (nesting > 0);
        }
    }

    private static ConfigNode? ParseJson(string file, string text, List<ConfigError> errors)
    {
        try
        {
            using var document = JsonDocument.Parse(text, JsonOptions);
            return FromJson(file, document.RootElement, "", errors);
        }
        catch (JsonException e)
        {
            // The parser appends " LineNumber: 0 | BytePositionInLine: 7." with zero-based numbers; show them one-based instead.
            var reason = e.Message;
            var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0)
                reason = reason[..cut];
            errors.Add(new ConfigError(file, null, null,
                $"cannot parse JSON at line {(e.LineNumber ?? 0) + 1}, column {(e.BytePositionInLine ?? 0) + 1}: {reason}"));
            return null;
        }
    }

    private static ConfigNode FromJson(string file, JsonElement element, string path, List<ConfigError> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var entries = new List<KeyValuePair<string, ConfigNode>>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    // JsonDocument keeps duplicate properties; report them the way YamlDotNet does for YAML.
                    if (!seen.Add(property.Name))
                    {
                        errors.Add(new ConfigError(file, Join(path, property.Name), null, "duplicate key"));
                        continue;
                    }

                    entries.Add(new(property.Name, FromJson(file, property.Value, Join(path, property.Name), errors)));
                }

                return new MappingNode(entries);
            case JsonValueKind.Array:
                return new SequenceNode([.. element.EnumerateArray().Select(item => FromJson(file, item, path, errors))]);
            case JsonValueKind.String:
                return new ScalarNode(element.GetString()!, IsQuoted: true, IsNull: false);
            case JsonValueKind.Null:
                return new ScalarNode("null", IsQuoted: false, IsNull: true);
            default:
                // Numbers and booleans keep their literal text, so 8080.0 fails an integer check like the YAML scalar would.
                return new ScalarNode(element.GetRawText(), IsQuoted: false, IsNull: false);
        }
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>Remembers where the last good event ended, for errors YamlDotNet raises without a position.</summary>
    private sealed class PositionTrackingParser(IParser inner) : IParser
    {
        public Mark LastGood { get; private set; } = Mark.Empty;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (inner.Current is { } current)
                LastGood = current.End;
            return inner.MoveNext();
        }
    }
}
