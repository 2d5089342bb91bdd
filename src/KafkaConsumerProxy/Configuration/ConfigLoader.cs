using System.Collections.ObjectModel;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Loads the main config file and every route file of its <c>routes_dir</c>, validating all of it before anything
/// starts. Every error is collected (never only the first), each naming the file, the key and the bad value.
/// Scalars are accepted when their text parses as the expected type, whether quoted or not. Values are checked with
/// the rule that will be applied to them: request URLs and Host headers are made by the functions delivery uses
/// (<see cref="EndpointSettings.Targets"/>, <see cref="EndpointSettings.NewRequest"/>), librdkafka checks the consumer
/// settings (offline), and <c>state_dir</c> is tested by creating and removing a directory. Nothing else is written.
/// The jobs are split: <see cref="ConfigTree"/> reads a YAML or JSON file into a tree; a route file is bound first
/// (<see cref="RouteBinding"/>) and checked after (<see cref="RouteValidator"/>, <see cref="EndpointSecurityRules"/>),
/// by <see cref="RouteReader"/>; the main file's sections are read and checked key by key (<see cref="MapReader"/>,
/// <see cref="AdminSectionReader"/>, <see cref="TelemetrySectionReader"/>); this class puts them together.
/// </summary>
internal static class ConfigLoader
{
    private static readonly string[] RouteExtensions = [".yaml", ".yml", ".json"];

    // What char.IsControl matches, for messages: librdkafka cuts a name at a NUL, and a log would show other names.
    internal const string ControlCharacters = "control characters (U+0000 to U+001F, U+007F to U+009F)";

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
        var roots = new Dictionary<string, MappingNode>(StringComparer.Ordinal);
        var (config, errors) = TryLoad(configPath, roots);
        foreach (var (file, root) in roots)
            ConfigPositions.Locate(errors, 0, file, root);
        return (config, errors);
    }

    // Every file read leaves its tree as written in `roots`, so that each error can be given its line and column.
    private static (KcpConfig? Config, List<ConfigError> Errors) TryLoad(string configPath, Dictionary<string, MappingNode> roots)
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
        roots[file] = root;
        root = SecretReferences.Resolve(file, root, errors);

        var baseDir = Path.GetDirectoryName(file)!;
        var main = new MapReader(file, root, errors);
        var clusters = ReadClusters(main, errors);
        var routesDir = ResolveDirectory(main, MainFileKeys.RoutesDir, baseDir, mustExist: true);
        var stateDir = ResolveDirectory(main, MainFileKeys.StateDir, baseDir, mustExist: false);
        var admin = AdminSectionReader.Read(main, errors, baseDir);
        var limits = ReadLimits(main, errors);
        var telemetry = TelemetrySectionReader.Read(main, errors);
        var logging = LoggingSectionReader.Read(main, errors);
        var fleet = FleetSectionReader.Read(main, errors);
        var shutdownTimeoutMs = main.Int(MainFileKeys.ShutdownTimeoutMs) ?? KcpConfig.DefaultShutdownTimeoutMs;
        var socketCompletions = main.Choice(MainFileKeys.SocketCompletions) ?? KcpConfig.InlineSocketCompletions;
        main.ReportUnknownKeys();

        var routes = routesDir is null ? [] : LoadRoutes(routesDir, clusters, limits, errors, roots);
        if (routesDir is not null && routes.Count == 0 && errors.Count == 0)
            main.Error("routes_dir", main.WrittenOrDefault("routes_dir", "routes"), $"holds no route file (*.yaml, *.yml or *.json) in {routesDir}; kcp needs at least one route");
        if (stateDir is not null)
            CheckStateDir(main, stateDir, routes, errors);

        // Only once every property passed on its own: what is left are librdkafka's checks between properties.
        if (errors.Count == 0)
            RouteValidator.ValidateConsumers(routes, clusters!, errors);

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
            Logging = logging!,
            Fleet = fleet!,
            ShutdownTimeout = TimeSpan.FromMilliseconds(shutdownTimeoutMs),
            SocketCompletions = socketCompletions,
        }, errors);
    }

    // Returns null when `clusters` itself is unusable, so that routes are not also blamed for naming a cluster.
    private static Dictionary<string, ClusterDefinition>? ReadClusters(MapReader main, List<ConfigError> errors)
    {
        var node = main.Mapping(MainFileKeys.Clusters);
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
            var servers = reader.String(MainFileKeys.Of(MainFileKeys.ClusterKeys, "bootstrap_servers")) ?? "";
            if (servers.Length > 0 && EndpointRules.BootstrapProblem(servers) is { } serversProblem)
                reader.Error("bootstrap_servers", servers, serversProblem);
            var conf = reader.Conf(MainFileKeys.Of(MainFileKeys.ClusterKeys, "consumer_conf"));
            var registry = SchemaRegistrySectionReader.Read(reader, $"clusters.{name}.", errors);
            reader.ReportUnknownKeys();
            clusters[name] = new ClusterDefinition(name, servers, conf) { SchemaRegistry = registry };
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
        var node = main.Mapping(MainFileKeys.Limits);
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
            var rate = reader.Int(MainFileKeys.Of(MainFileKeys.LimitKeys, "max_requests_per_second"));
            var concurrency = reader.Int(MainFileKeys.Of(MainFileKeys.LimitKeys, "max_concurrency"));
            if (!limitNode.Entries.Any(e => MainFileKeys.LimitKeys.Any(k => k.Name == e.Key)))
                main.Error($"limits.{name}", null, "must set max_requests_per_second, max_concurrency or both");
            reader.ReportUnknownKeys();
            limits[name] = new LimitDefinition(name, rate, concurrency);
        }

        return limits;
    }

    private static string? ResolveDirectory(MapReader main, RouteKey declared, string baseDir, bool mustExist)
    {
        var (key, defaultValue) = (declared.Name, (string)declared.Default!);
        var before = main.ErrorCount;
        var written = main.String(declared);
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

        RouteValidator.ValidateRecordNames(routes, errors);
    }

    private static List<RouteDefinition> LoadRoutes(string routesDir, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors, Dictionary<string, MappingNode> roots)
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

            var route = RouteReader.Read(file, name, clusters, limits, errors, roots);
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

}
