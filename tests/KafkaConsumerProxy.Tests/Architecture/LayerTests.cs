using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using NetArchTest.Rules;
using Xunit.Abstractions;

namespace KafkaConsumerProxy.Tests.Architecture;

/// <summary>
/// The folders of kcp are its layers (docs/ARCHITECTURE.md): a folder uses only folders of lower layers, so the folder
/// graph has no cycle; there are no exceptions. The dependencies are read from the compiled assembly (every type
/// reference in signatures, fields and method bodies, lambdas and async state machines included) and, for what the
/// assembly does not show, from the source files (<see cref="SourceGraph"/>).
/// </summary>
public sealed class LayerTests(ITestOutputHelper output)
{
    private const string Root = "KafkaConsumerProxy";

    /// <summary>The layers, lowest first (docs/ARCHITECTURE.md). A folder may use the folders of the layers below its
    /// own, never its own layer's other folders nor any layer above.</summary>
    internal static readonly string[][] Layers =
    [
        ["Files", "Interop"],
        ["Telemetry"],
        ["Configuration"],
        ["Tls"],
        ["Decoding"],
        ["Offsets", "Delivery"],
        ["Consuming"],
        ["Routes"],
        ["Fleet"],
        ["Admin"],
        ["Hosting", "Embedded"],
        ["Cli"],
    ];

    private static readonly Assembly Kcp = typeof(global::KafkaConsumerProxy.Cli.CliApp).Assembly;

    // A folder named in a source file: in a using, a qualified name or a global:: name.
    private static readonly Regex NamedFolderPattern = new(@"\bKafkaConsumerProxy\.(\w+)", RegexOptions.CultureInvariant);
    private static readonly Regex PartialTypePattern = new(@"\bpartial\s+(class|struct|record|interface)\b", RegexOptions.CultureInvariant);
    private static readonly Regex GeneratedPartPattern = new(@"\[(LoggerMessage|LibraryImport|GeneratedRegex)\b", RegexOptions.CultureInvariant);

    [Fact]
    public void Folders_UseOnlyLowerLayers_Issue16()
    {
        var backEdges = LayerViolations(FolderGraph());
        Assert.True(backEdges.Count == 0, "folders using a folder of their own layer or of a higher one (LayerTests.Layers, docs/ARCHITECTURE.md):\n"
            + string.Join('\n', backEdges));
    }

    /// <summary>
    /// The same rule on the source files, for what the compiled assembly does not show: a <c>using</c> of a higher
    /// folder, and a constant of one (the compiler copies its value into the user, which then holds no reference).
    /// </summary>
    [Fact]
    public void Sources_NameOnlyLowerLayers_Issue16()
    {
        var backEdges = LayerViolations(SourceGraph());
        Assert.True(backEdges.Count == 0, "source files naming a folder of their own layer or of a higher one (LayerTests.Layers, docs/ARCHITECTURE.md):\n"
            + string.Join('\n', backEdges));
    }

    /// <summary>
    /// Every source file stays under 600 lines, and <c>partial</c> marks only a type whose other part a source generator
    /// writes (<c>[LoggerMessage]</c>, <c>[LibraryImport]</c>, <c>[GeneratedRegex]</c>): no class is split over files by hand.
    /// </summary>
    [Fact]
    public void Sources_UnderSixHundredLines_PartialOnlyForGeneratedCode_Issue16()
    {
        var source = SourceDirectory();
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            var relative = Path.GetRelativePath(source, file);
            var text = File.ReadAllText(file);
            var lines = text.Split('\n').Length;
            if (lines > 600)
                problems.Add($"{relative}: {lines} lines");
            if (PartialTypePattern.IsMatch(text) && !GeneratedPartPattern.IsMatch(text))
                problems.Add($"{relative}: partial without a generated part");
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void Folders_EachHasALayer_Issue16()
    {
        var known = Layers.SelectMany(l => l).ToHashSet();
        var unlisted = Kcp.GetTypes()
            .Select(t => t.Namespace)
            .Where(ns => ns is not null && ns.StartsWith(Root + ".", StringComparison.Ordinal))
            .Select(ns => ns![(Root.Length + 1)..].Split('.')[0])
            .Where(folder => !known.Contains(folder))
            .Distinct()
            .Order()
            .ToList();
        Assert.True(unlisted.Count == 0, "folders without a layer in LayerTests.Layers: " + string.Join(", ", unlisted));
    }

    /// <summary>Prints the folder graph with the types behind each edge:
    /// <c>dotnet test --filter FolderGraph_Printed --logger "console;verbosity=detailed"</c>.</summary>
    [Fact]
    public void FolderGraph_Printed_Issue16()
    {
        var graph = FolderGraph();
        var text = new StringBuilder();
        foreach (var ((from, to), types) in graph.OrderBy(e => e.Key.From).ThenBy(e => e.Key.To))
        {
            text.Append($"{from} -> {to}: ").AppendJoin(", ", types.Select(ShortName)).Append('\n');
        }
        output.WriteLine(text.ToString());
        Assert.NotEmpty(graph);
    }

    /// <summary>Every back-edge is reported, also between two folders of one layer; an edge down is not.</summary>
    [Fact]
    public void LayerViolations_BackEdge_IsReported_Issue16()
    {
        var graph = new Dictionary<(string From, string To), IReadOnlyList<string>>
        {
            [("Delivery", "Telemetry")] = ["KafkaConsumerProxy.Delivery.A"],
            [("Telemetry", "Delivery")] = ["KafkaConsumerProxy.Telemetry.B"],
            [("Offsets", "Delivery")] = ["KafkaConsumerProxy.Offsets.C"],
            [("Configuration", "Delivery")] = ["KafkaConsumerProxy.Configuration.EndpointRules", "KafkaConsumerProxy.Configuration.EndpointRules/<>c"],
        };
        var violations = LayerViolations(graph);
        Assert.Equal([
            "Configuration -> Delivery (KafkaConsumerProxy.Configuration.EndpointRules, KafkaConsumerProxy.Configuration.EndpointRules/<>c)",
            "Offsets -> Delivery (KafkaConsumerProxy.Offsets.C)",
            "Telemetry -> Delivery (KafkaConsumerProxy.Telemetry.B)"], violations);
    }

    /// <summary>The source rule reads the real files: a folder that names a lower one there is found.</summary>
    [Fact]
    public void SourceGraph_ReadsTheFiles_Issue16()
    {
        var graph = SourceGraph();
        Assert.Contains("Hosting/ProxyRunner.cs", graph[("Hosting", "Admin")]);
        Assert.Contains("Delivery/SkipLog.cs", graph[("Delivery", "Configuration")]);
    }

    /// <summary>The rule reads the real assembly: a folder that uses a higher one there is found.</summary>
    [Fact]
    public void FolderGraph_ReadsTheAssembly_Issue16()
    {
        var graph = FolderGraph();
        Assert.Contains("KafkaConsumerProxy.Cli.DemoCommand", graph[("Cli", "Embedded")]);
        Assert.Contains("KafkaConsumerProxy.Hosting.RouteFactory", graph[("Hosting", "Consuming")]);
        Assert.Contains("KafkaConsumerProxy.Hosting.ProxyRunner", graph[("Hosting", "Admin")]);
    }

    /// <summary>Every edge between two different folders, with the types of the using folder that make it.</summary>
    internal static Dictionary<(string From, string To), IReadOnlyList<string>> FolderGraph()
    {
        var folders = Layers.SelectMany(l => l).ToList();
        var graph = new Dictionary<(string, string), IReadOnlyList<string>>();
        foreach (var from in folders)
        {
            foreach (var to in folders.Where(f => f != from))
            {
                var result = Types.InAssembly(Kcp)
                    .That().ResideInNamespace($"{Root}.{from}")
                    .ShouldNot().HaveDependencyOn($"{Root}.{to}")
                    .GetResult();
                if (!result.IsSuccessful)
                {
                    graph[(from, to)] = result.FailingTypeNames.Order().ToList();
                }
            }
        }
        return graph;
    }

    /// <summary>
    /// Every edge between two different folders of the source, with the files of the using folder that name the other
    /// (<c>KafkaConsumerProxy.{Folder}</c> in a <c>using</c> or a qualified name).
    /// </summary>
    internal static Dictionary<(string From, string To), IReadOnlyList<string>> SourceGraph()
    {
        var folders = Layers.SelectMany(l => l).ToHashSet();
        var source = SourceDirectory();
        var edges = new Dictionary<(string, string), SortedSet<string>>();
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file).Replace('\\', '/');
            var from = relative.Split('/')[0];
            if (!folders.Contains(from))
                continue;
            foreach (Match named in NamedFolderPattern.Matches(File.ReadAllText(file)))
            {
                var to = named.Groups[1].Value;
                if (to != from && folders.Contains(to))
                {
                    (edges.TryGetValue((from, to), out var files) ? files : edges[(from, to)] = new SortedSet<string>(StringComparer.Ordinal)).Add(relative);
                }
            }
        }

        return edges.ToDictionary(e => e.Key, e => (IReadOnlyList<string>)[.. e.Value]);
    }

    internal static List<string> LayerViolations(IReadOnlyDictionary<(string From, string To), IReadOnlyList<string>> graph)
    {
        var layerOf = Layers.SelectMany((folders, layer) => folders.Select(f => (f, layer))).ToDictionary(x => x.f, x => x.layer);
        return [.. graph
            .Where(e => e.Key.From != e.Key.To && layerOf[e.Key.To] >= layerOf[e.Key.From])
            .OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal)
            .Select(e => $"{e.Key.From} -> {e.Key.To} ({string.Join(", ", e.Value)})")];
    }

    private static string SourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KafkaConsumerProxy.slnx")))
                return Path.Combine(dir.FullName, "src", Root);
        }

        throw new DirectoryNotFoundException("KafkaConsumerProxy.slnx not found above " + AppContext.BaseDirectory);
    }

    private static string ShortName(string fullName) => fullName[(fullName.LastIndexOf('.') + 1)..];
}
