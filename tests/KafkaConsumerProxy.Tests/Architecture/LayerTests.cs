using System.Reflection;
using System.Text;
using NetArchTest.Rules;
using Xunit.Abstractions;

namespace KafkaConsumerProxy.Tests.Architecture;

/// <summary>
/// The folders of kcp are its layers (docs/ARCHITECTURE.md): a folder uses only folders of lower layers, so the folder
/// graph has no cycle. The dependencies are read from the compiled assembly (every type reference in signatures,
/// fields and method bodies, lambdas and async state machines included), not from <c>using</c> lines.
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
        ["Offsets", "Delivery"],
        ["Consuming"],
        ["Routes"],
        ["Admin"],
        ["Hosting", "Embedded"],
        ["Cli"],
    ];

    /// <summary>
    /// The back-edges the code still has, each by the type that makes it; any other back-edge fails the test.
    /// Two of Configuration's load-time checks run the code that will use the value (the request builder for host, url
    /// and domain; the offset store's record file name), so the check and the use cannot disagree.
    /// </summary>
    internal static readonly HashSet<(string From, string To, string Type)> KnownBackEdges =
    [
        ("Configuration", "Delivery", "KafkaConsumerProxy.Configuration.EndpointRules"),
        ("Configuration", "Offsets", "KafkaConsumerProxy.Configuration.StateDirRules"),
    ];

    private static readonly Assembly Kcp = typeof(global::KafkaConsumerProxy.Cli.CliApp).Assembly;

    [Fact]
    public void Folders_UseOnlyLowerLayers_Issue16()
    {
        var backEdges = LayerViolations(FolderGraph(), KnownBackEdges);
        Assert.True(backEdges.Count == 0, "folders using a folder of their own layer or of a higher one (LayerTests.Layers, docs/ARCHITECTURE.md):\n"
            + string.Join('\n', backEdges));
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

    /// <summary>A back-edge is reported, also from a new type of a folder that has a known one, and also between two
    /// folders of one layer; a known one is not.</summary>
    [Fact]
    public void LayerViolations_BackEdge_IsReported_Issue16()
    {
        var graph = new Dictionary<(string From, string To), IReadOnlyList<string>>
        {
            [("Delivery", "Telemetry")] = ["KafkaConsumerProxy.Delivery.A"],
            [("Telemetry", "Delivery")] = ["KafkaConsumerProxy.Telemetry.B"],
            [("Offsets", "Delivery")] = ["KafkaConsumerProxy.Offsets.C"],
            [("Configuration", "Delivery")] = ["KafkaConsumerProxy.Configuration.EndpointRules", "KafkaConsumerProxy.Configuration.EndpointRules/<>c", "KafkaConsumerProxy.Configuration.D"],
        };
        var violations = LayerViolations(graph, KnownBackEdges);
        Assert.Equal([
            "Configuration -> Delivery (KafkaConsumerProxy.Configuration.D)",
            "Offsets -> Delivery (KafkaConsumerProxy.Offsets.C)",
            "Telemetry -> Delivery (KafkaConsumerProxy.Telemetry.B)"], violations);
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

    internal static List<string> LayerViolations(
        IReadOnlyDictionary<(string From, string To), IReadOnlyList<string>> graph, IReadOnlySet<(string From, string To, string Type)> known)
    {
        var layerOf = Layers.SelectMany((folders, layer) => folders.Select(f => (f, layer))).ToDictionary(x => x.f, x => x.layer);
        return [.. graph
            .Where(e => e.Key.From != e.Key.To && layerOf[e.Key.To] >= layerOf[e.Key.From])
            .Select(e => (e.Key, Types: e.Value.Where(t => !known.Contains((e.Key.From, e.Key.To, OuterType(t)))).ToList()))
            .Where(e => e.Types.Count > 0)
            .OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal)
            .Select(e => $"{e.Key.From} -> {e.Key.To} ({string.Join(", ", e.Types)})")];
    }

    // A nested type (a closure, an async state machine) counts as the type it is declared in.
    private static string OuterType(string fullName) => fullName.Split('/', '+')[0];

    private static string ShortName(string fullName) => fullName[(fullName.LastIndexOf('.') + 1)..];
}
