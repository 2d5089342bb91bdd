using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// Writes a kcp.yaml and route files into a fresh temporary directory, the way an operator would,
/// so behaviour tests exercise the real loader too.
/// </summary>
public sealed class ProxyConfigWriter : IDisposable
{
    /// <summary>Route keys every test route gets unless it overrides them; retries are fast for tests.</summary>
    public static IReadOnlyDictionary<string, object> RouteBaseline { get; } = new Dictionary<string, object>
    {
        ["host"] = "127.0.0.1",
        ["url"] = "/consume",
        ["concurrency"] = 1,
        ["can_skip"] = false,
        ["retry_nums"] = 3,
        ["retry_interval_ms"] = 10,
        ["conn_timeout_ms"] = 1000,
        ["exec_timeout_ms"] = 5000,
        ["use_saved_offset_time"] = 0,
    };

    /// <summary>librdkafka settings that make a consumer notice new data and group changes quickly on the mock cluster.</summary>
    public static IReadOnlyDictionary<string, string> FastConsumerConf { get; } = new Dictionary<string, string>
    {
        ["fetch.wait.max.ms"] = "20",
        ["session.timeout.ms"] = "6000",
        ["heartbeat.interval.ms"] = "300",
        ["reconnect.backoff.ms"] = "50",
        ["reconnect.backoff.max.ms"] = "200",
    };

    public ProxyConfigWriter(string bootstrapServers, IReadOnlyDictionary<string, string>? clusterConsumerConf = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kcp-test-").FullName;
        RoutesDir = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "routes")).FullName;
        StateDir = Path.Combine(Directory, "state");
        ConfigFile = Path.Combine(Directory, "kcp.yaml");
        var main = new StringBuilder();
        main.AppendLine("clusters:");
        main.AppendLine("  default:");
        main.AppendLine(CultureInfo.InvariantCulture, $"    bootstrap_servers: \"{bootstrapServers}\"");
        main.AppendLine("    consumer_conf:");
        foreach (var (key, value) in clusterConsumerConf ?? FastConsumerConf)
        {
            main.AppendLine(CultureInfo.InvariantCulture, $"      {key}: \"{value}\"");
        }

        main.AppendLine("routes_dir: routes");
        main.AppendLine("state_dir: state");
        // Any free port: tests run several kcp at once; the bound address is in {state_dir}/admin.json.
        main.AppendLine("admin:");
        main.AppendLine("  listen: \"127.0.0.1:0\"");
        File.WriteAllText(ConfigFile, main.ToString());
    }

    public string Directory { get; }

    public string RoutesDir { get; }

    public string StateDir { get; }

    public string ConfigFile { get; }

    /// <summary>Path of the skip records file.</summary>
    public string SkipFile => Path.Combine(StateDir, "skipped.jsonl");

    /// <summary>Adds a cluster <paramref name="name"/> to kcp.yaml's <c>clusters</c>, with the fast consumer settings.</summary>
    public void AddCluster(string name, string bootstrapServers)
    {
        var text = File.ReadAllText(ConfigFile);
        var entry = new StringBuilder();
        entry.AppendLine(CultureInfo.InvariantCulture, $"  {name}:");
        entry.AppendLine(CultureInfo.InvariantCulture, $"    bootstrap_servers: \"{bootstrapServers}\"");
        File.WriteAllText(ConfigFile, text.Replace("clusters:\n", "clusters:\n" + entry.ToString().ReplaceLineEndings("\n"), StringComparison.Ordinal));
    }

    /// <summary>Gives cluster <paramref name="cluster"/> a <c>schema_registry</c> of these keys (values written as they are).</summary>
    public void AddSchemaRegistry(string cluster, IReadOnlyDictionary<string, string> keys)
    {
        var text = File.ReadAllText(ConfigFile);
        var entry = new StringBuilder();
        entry.AppendLine("    schema_registry:");
        foreach (var (key, value) in keys)
        {
            entry.AppendLine(CultureInfo.InvariantCulture, $"      {key}: {value}");
        }

        var at = $"  {cluster}:\n";
        File.WriteAllText(ConfigFile, text.Replace(at, at + entry.ToString().ReplaceLineEndings("\n"), StringComparison.Ordinal));
    }

    /// <summary>Appends top-level YAML (e.g. a <c>limits</c> mapping) to kcp.yaml.</summary>
    public void AppendMain(string yaml) => File.AppendAllText(ConfigFile, yaml.EndsWith('\n') ? yaml : yaml + "\n");

    /// <summary>Writes routes/{name}.yaml with the baseline keys, then <paramref name="keys"/> on top.</summary>
    public string AddRoute(string name, string topic, string group, int port, IReadOnlyDictionary<string, object>? keys = null)
    {
        var all = new Dictionary<string, object>(RouteBaseline)
        {
            ["topic"] = topic,
            ["group"] = group,
            ["port"] = port,
        };
        foreach (var (key, value) in keys ?? new Dictionary<string, object>())
        {
            all[key] = value;
        }

        var yaml = new StringBuilder();
        foreach (var (key, value) in all)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"{key}: {Format(value)}");
        }

        var path = Path.Combine(RoutesDir, name + ".yaml");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        string s => "\"" + s.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        int[] list => "[" + string.Join(", ", list.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]",
        IReadOnlyDictionary<string, string> map => "{" + string.Join(", ", map.Select(kv => $"\"{kv.Key}\": \"{kv.Value}\"")) + "}",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A process under test may still hold a file; the temp directory is cleaned by the OS.
        }
    }
}
