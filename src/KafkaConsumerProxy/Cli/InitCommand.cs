using System.CommandLine;
using System.Globalization;
using System.Text;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp init [DIR]</c>: writes a commented starter <c>kcp.yaml</c> and one route, <c>routes/example.yaml</c> (the three
/// keys a route needs, then every optional key commented out at its declared default), and prints the next steps. An
/// existing file is never overwritten without <c>--force</c>: exit 2 naming it, and nothing written.
/// </summary>
internal static class InitCommand
{
    /// <summary>The route <c>kcp init</c> writes: routes/example.yaml.</summary>
    public const string RouteName = "example";

    // The column the comments of the commented keys start at.
    private const int CommentColumn = 36;

    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("dir") { Description = "Where to write kcp.yaml and routes/ (default: the current directory)", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => new DirectoryInfo(".") };
        var force = new Option<bool>("--force") { Description = "Overwrite kcp.yaml and routes/example.yaml when they exist" };
        var command = new Command("init", "Write a commented starter kcp.yaml and one route file (routes/example.yaml)") { directory, force };
        command.SetAction(parse =>
        {
            var dir = parse.GetRequiredValue(directory).FullName;
            var main = Path.Combine(dir, "kcp.yaml");
            var route = Path.Combine(dir, "routes", RouteName + ".yaml");
            if (!parse.GetValue(force) && new[] { main, route }.FirstOrDefault(File.Exists) is { } existing)
            {
                Console.Error.WriteLine($"kcp init: {existing} already exists; nothing was written (give --force to overwrite it)");
                return CliApp.ConfigError;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(route)!);
            File.WriteAllText(main, MainFile());
            File.WriteAllText(route, RouteFile());
            var config = Path.GetRelativePath(Environment.CurrentDirectory, main);
            Console.Out.WriteLine($"Wrote {main}");
            Console.Out.WriteLine($"Wrote {route}");
            Console.Out.WriteLine("Next steps:");
            Console.Out.WriteLine($"  1. Set bootstrap_servers in {config} to your Kafka brokers.");
            Console.Out.WriteLine($"  2. Set topic, group and endpoint in {Path.GetRelativePath(Environment.CurrentDirectory, route)} (one file per route; its name is the route's name).");
            Console.Out.WriteLine($"  3. kcp validate --config {config}");
            Console.Out.WriteLine($"  4. kcp run --config {config}     (then kcp status, or the dashboard at http://{AdminSettings.DefaultListen}/)");
            Console.Out.WriteLine("Editors: kcp schema route and kcp schema main print the JSON Schemas of these files (docs/CONFIGURATION.md).");
            return 0;
        });
        return command;
    }

    /// <summary>The starter kcp.yaml: one cluster, the two directories, the optional sections commented out.</summary>
    internal static string MainFile()
    {
        var text = new StringBuilder();
        text.AppendLine("# kcp.yaml: kcp's main configuration; every key is described in docs/CONFIGURATION.md.");
        text.AppendLine("# Check it with: kcp validate --config kcp.yaml");
        text.AppendLine("clusters:");
        text.AppendLine("  default:                          # routes use the cluster named default unless they set cluster");
        text.AppendLine("    bootstrap_servers: \"localhost:9092\"   # your brokers: host:port entries separated by ','");
        text.AppendLine("    # consumer_conf: {}             # librdkafka properties for every route on this cluster");
        text.AppendLine(Line($"{MainFileKeys.RoutesDir.Name}: {MainFileKeys.RoutesDir.Default}", MainFileKeys.RoutesDir.Description));
        text.AppendLine(Line($"{MainFileKeys.StateDir.Name}: {MainFileKeys.StateDir.Default}", MainFileKeys.StateDir.Description));
        text.AppendLine("# admin:");
        text.AppendLine(Line($"#   listen: {AdminSettings.DefaultListen}", "metrics, health, API and dashboard; off to turn it off"));
        text.AppendLine(Line($"# {MainFileKeys.ShutdownTimeoutMs.Name}: {Value(MainFileKeys.ShutdownTimeoutMs.Default!)}", MainFileKeys.ShutdownTimeoutMs.Description));
        return text.ToString();
    }

    /// <summary>The starter route: the three keys it needs, then every optional key commented out at its default.</summary>
    internal static string RouteFile()
    {
        var text = new StringBuilder();
        text.AppendLine($"# routes/{RouteName}.yaml: one route, named after its file: the messages of a topic POSTed to an HTTP endpoint.");
        text.AppendLine("# Every key is described in docs/CONFIGURATION.md.");
        text.AppendLine(Line($"{RouteDefinition.TopicKey.Name}: orders", RouteDefinition.TopicKey.Description));
        text.AppendLine(Line($"{RouteDefinition.GroupKey.Name}: orders-kcp", RouteDefinition.GroupKey.Description));
        text.AppendLine(Line($"{EndpointSettings.EndpointKey.Name}: http://127.0.0.1:8080/consume", "Where each message is POSTed."));
        text.AppendLine();
        text.AppendLine("# Optional keys, at their defaults (a key whose comment says \"only with\" is refused without that other key):");
        var older = EndpointSettings.PartsOfEndpoint.Select(k => k.Name).ToHashSet();
        foreach (var key in RouteKeys.All.Where(k => !k.Required && k.Default is not null && !older.Contains(k.Name)))
            text.AppendLine(Line($"# {key.Name}: {Value(key.Default!)}", key.Description));
        return text.ToString();
    }

    private static string Line(string setting, string comment) =>
        comment.Length == 0 ? setting : $"{setting.PadRight(CommentColumn - 2)}  # {comment}";

    private static string Value(object value) => value switch
    {
        bool flag => flag ? "true" : "false",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };
}
