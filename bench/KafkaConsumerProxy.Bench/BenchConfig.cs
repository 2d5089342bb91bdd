using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// Writes a kcp.yaml and one route file, the way an operator would (as the tests' ProxyConfigWriter does).
/// </summary>
internal static class BenchConfig
{
    /// <summary>
    /// The consumer settings the benchmark changes, for every kcp run and the consume-only ceiling.
    /// <c>fetch.wait.max.ms</c>: the mock cluster holds a fetch that finds no data for this long (default 500 ms)
    /// and, unlike a real broker, does not answer early when data arrives meanwhile; at 1,000 msg/s that wait, not
    /// kcp, would be the latency. It does not matter while a backlog is drained (every fetch finds data).
    /// <c>session.timeout.ms</c>: the mock holds a rebalance that adds members for session.timeout.ms - 1 s
    /// (default 45 s); 10 s bounds that stall should one happen.
    /// </summary>
    /// <remarks><paramref name="extra"/> (the <c>--consumer-conf</c> option, for experiments) is applied last.</remarks>
    public static IReadOnlyDictionary<string, string> ConsumerConf(int fetchWaitMs, IReadOnlyDictionary<string, string> extra)
    {
        var conf = new Dictionary<string, string>
        {
            ["fetch.wait.max.ms"] = fetchWaitMs.ToString(CultureInfo.InvariantCulture),
            ["session.timeout.ms"] = "10000",
        };
        foreach (var (key, value) in extra)
        {
            conf[key] = value;
        }

        return conf;
    }

    /// <summary>Parses <c>key=value,key=value</c>; throws <see cref="FormatException"/> for an entry without '='.</summary>
    public static IReadOnlyDictionary<string, string> ParseConf(string text)
    {
        var conf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"'{entry}' is not key=value");
            }

            conf[entry[..equals].Trim()] = entry[(equals + 1)..].Trim();
        }

        return conf;
    }

    /// <summary>The inverse of <see cref="ParseConf"/>.</summary>
    public static string FormatConf(IReadOnlyDictionary<string, string> conf) =>
        string.Join(',', conf.Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>Route keys of every scenario unless it overrides them.</summary>
    public static IReadOnlyDictionary<string, object> RouteBaseline { get; } = new Dictionary<string, object>
    {
        ["host"] = "127.0.0.1",
        ["concurrency"] = 4,
        ["can_skip"] = false,
        ["retry_nums"] = 3,
        ["retry_interval_ms"] = 100,
        ["conn_timeout_ms"] = 1000,
        ["exec_timeout_ms"] = 5000,
        ["use_saved_offset_time"] = 0,
    };

    /// <summary>Writes <c>{directory}/kcp.yaml</c> and <c>{directory}/routes/bench.yaml</c>; returns the kcp.yaml path.</summary>
    public static string Write(string directory, string bootstrapServers, IReadOnlyDictionary<string, string> consumerConf, string topic, string group, int port, string url, IReadOnlyDictionary<string, object> keys)
    {
        var routes = Directory.CreateDirectory(Path.Combine(directory, "routes")).FullName;
        var main = new StringBuilder()
            .AppendLine("clusters:")
            .AppendLine("  default:")
            .AppendLine(CultureInfo.InvariantCulture, $"    bootstrap_servers: \"{bootstrapServers}\"")
            .AppendLine("    consumer_conf:");
        foreach (var (key, value) in consumerConf)
        {
            main.AppendLine(CultureInfo.InvariantCulture, $"      {key}: \"{value}\"");
        }

        main.AppendLine("routes_dir: routes").AppendLine("state_dir: state");
        var configFile = Path.Combine(directory, "kcp.yaml");
        File.WriteAllText(configFile, main.ToString());

        var all = new Dictionary<string, object>(RouteBaseline)
        {
            ["topic"] = topic,
            ["group"] = group,
            ["port"] = port,
            ["url"] = url,
        };
        foreach (var (key, value) in keys)
        {
            all[key] = value;
        }

        var route = new StringBuilder();
        foreach (var (key, value) in all)
        {
            route.AppendLine(CultureInfo.InvariantCulture, $"{key}: {Format(value)}");
        }

        File.WriteAllText(Path.Combine(routes, "bench.yaml"), route.ToString());
        return configFile;
    }

    /// <summary>Route keys as YAML text, for the report: <c>async_concurrency: 64</c>.</summary>
    public static string Describe(IReadOnlyDictionary<string, object> keys) =>
        string.Join(", ", keys.Select(kv => $"{kv.Key}: {Format(kv.Value)}"));

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
