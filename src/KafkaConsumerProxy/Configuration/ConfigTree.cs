using System.Globalization;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KafkaConsumerProxy.Configuration;

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
                return (new ScalarNode(value, !isPlain, isNull) { Line = (int)scalar.Start.Line, Column = (int)scalar.Start.Column }, 1);
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

                return (new SequenceNode(items) { Line = (int)sequence.Start.Line, Column = (int)sequence.Start.Column }, size);
            }

            var mapping = parser.Consume<MappingStart>();
            Count(1, mapping.Start);
            long total = 1;
            var entries = new List<KeyValuePair<string, ConfigNode>>();
            var keyMarks = new List<(int Line, int Column)>();
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
                keyMarks.Add(((int)keyStart.Line, (int)keyStart.Column));
            }

            return (new MappingNode(entries) { KeyMarks = keyMarks, Line = (int)mapping.Start.Line, Column = (int)mapping.Start.Column }, total);
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
