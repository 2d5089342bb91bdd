using System.Globalization;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// The route-key tables of docs/CONFIGURATION.md state what <see cref="RouteKeys.All"/> declares: every key, its type, whether it is
/// required, its default and its range or choices. A range or default changed in one place only fails here.
/// </summary>
public sealed partial class RouteKeyTableTests
{
    private static readonly string[] TableHeaders = ["| key | type | default | allowed | meaning |", "| key | default | meaning |"];

    [Fact]
    public void ConfigurationDocRouteKeyTable_RangesAndDefaults_MatchTheDeclarations_Issue16()
    {
        var rows = RouteTableRows();
        var declared = RouteKeys.All.ToDictionary(k => k.Name);

        foreach (var (key, cells) in rows.Where(r => r.Value.Length == 3))
        {
            Assert.True(declared.TryGetValue(key, out var declaration), $"docs/CONFIGURATION.md names route key '{key}', which no setting declares");
            var (type, defaultCell, allowed) = (cells[0], cells[1], cells[2]);
            Assert.Equal(TypeName(declaration!.Kind), type);
            Assert.True(DefaultMatches(declaration, defaultCell), $"'{key}': documented default '{defaultCell}', declared {(declaration.Required ? "required" : declaration.Default ?? "none")}");
            Assert.True(AllowedMatches(declaration, allowed), $"'{key}': documented as allowing '{allowed}', declared {declaration.Min}..{declaration.Max} [{string.Join(", ", declaration.Choices)}]");
        }

        // Every declared key is documented: in the main table, the TLS table, or (auth, headers) in their own section.
        var documented = rows.Keys.Concat(["auth", "headers"]).ToHashSet();
        Assert.Equal([], declared.Keys.Except(documented).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Declarations_RangesAreTheOnesTheLoaderApplies_Issue16()
    {
        var port = EndpointSettings.PortKey;

        Assert.Equal((1, 65535, false, null), (port.Min, port.Max, port.Required, port.Default));
        Assert.Equal(["form", "json", "raw", "cloudevents"], DeliverySettings.FormatKey.Choices);
        Assert.Equal(RouteDefaults.MaxPending, DeliverySettings.MaxPendingKey.Default);
        Assert.Equal(RouteKeys.All.Count, RouteKeys.All.Select(k => k.Name).Distinct().Count());
    }

    // key → cells between the key and the meaning: [type, default, allowed] in the route table, [default] in the TLS table.
    private static Dictionary<string, string[]> RouteTableRows()
    {
        var lines = File.ReadAllLines(ConfigurationDoc());
        var rows = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (heading, header) in new[] { ("## Route files", TableHeaders[0]), ("### HTTPS and mutual TLS (route keys)", TableHeaders[1]) })
        {
            var start = Array.FindIndex(lines, Array.IndexOf(lines, heading) + 1, l => l == header);
            Assert.True(start > 0, $"no table '{header}' under '{heading}'");
            foreach (var line in lines.Skip(start + 2).TakeWhile(l => l.StartsWith('|')))
            {
                var cells = SplitRow(line);
                foreach (Match key in KeyName().Matches(cells[0]))
                    rows[key.Groups[1].Value] = cells[1..^1];
            }
        }

        Assert.True(rows.Count > 40, $"found only {rows.Count} route keys in docs/CONFIGURATION.md's tables");
        return rows;
    }

    // Splits on '|' that is not escaped as '\|'.
    private static string[] SplitRow(string line) =>
        [.. CellSeparator().Split(line.Trim().Trim('|')).Select(c => c.Trim())];

    private static string TypeName(RouteKeyKind kind) => kind switch
    {
        RouteKeyKind.Integer => "integer",
        RouteKeyKind.Boolean => "bool",
        RouteKeyKind.IntegerList => "list of integers",
        RouteKeyKind.Mapping => "mapping",
        RouteKeyKind.UrlList => "URL or list of URLs",
        _ => "string",
    };

    private static bool DefaultMatches(RouteKey key, string cell)
    {
        if (key.Required)
            return cell == "required";
        if (cell == "required")
            return false;
        var literal = LeadingLiteral().Match(cell);
        return key.Default switch
        {
            int number => literal.Success && literal.Groups[1].Value == number.ToString(CultureInfo.InvariantCulture),
            bool flag => literal.Success && literal.Groups[1].Value == (flag ? "true" : "false"),
            string text => literal.Success && literal.Groups[1].Value == text,
            IReadOnlyList<int> list => literal.Success && literal.Groups[1].Value == "[" + string.Join(", ", list.Select(n => n.ToString(CultureInfo.InvariantCulture))) + "]",
            // No declared default: the table says what absence means in words, or an empty list or mapping.
            _ => !literal.Success || literal.Groups[1].Value is "[]" or "{}",
        };
    }

    private static bool AllowedMatches(RouteKey key, string cell)
    {
        string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
        switch (key.Kind)
        {
            case RouteKeyKind.Integer or RouteKeyKind.IntegerList:
                return key is { Min: int.MinValue, Max: int.MaxValue }
                    ? cell.StartsWith("any integer", StringComparison.Ordinal)
                    : cell.StartsWith($"{Number(key.Min)}–{Number(key.Max)}", StringComparison.Ordinal);
            case RouteKeyKind.Choice:
                var listed = cell.Split(';')[0].Split(" / ").Select(c => c.Trim().Trim('`'));
                return listed.SequenceEqual(key.Choices);
            default:
                return true;
        }
    }

    private static string ConfigurationDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var doc = Path.Combine(dir.FullName, "docs", "CONFIGURATION.md");
            if (File.Exists(doc) && File.Exists(Path.Combine(dir.FullName, "KafkaConsumerProxy.slnx")))
                return doc;
        }

        throw new FileNotFoundException("docs/CONFIGURATION.md not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"`([a-z_]+)`")]
    private static partial Regex KeyName();

    [GeneratedRegex(@"^`([^`]*)`")]
    private static partial Regex LeadingLiteral();

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();
}
