using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>Where a value was written: the file and the key path in it (<c>auth.token</c>). The tree keeps no line numbers.</summary>
internal sealed record ValueSource(string File, string Key);

/// <summary>One entry of an integer list as written: its text (null for a mapping or a list) and its number, if it is one.</summary>
internal readonly record struct BoundEntry(string? Text, int? Number);

/// <summary>
/// One declared key of a mapping as the file wrote it, bound to the key's kind: <see cref="Node"/> is what was written
/// (null when the key is absent), <see cref="Value"/> the value as that kind (an <see cref="int"/>, a <see cref="bool"/>,
/// a <see cref="string"/>, the <see cref="BoundEntry"/> list of an integer list, the <see cref="string"/> array of a URL list, the <see cref="MappingNode"/> of a
/// mapping), and <see cref="Problem"/> why it cannot be that kind at all (a mapping where a number belongs, text that is
/// not a number). Binding checks nothing else: whether a required key is there, ranges and choices are checked by
/// <see cref="KeyChecker"/>, which also reports <see cref="Problem"/>, so that errors come in the order keys are checked.
/// </summary>
internal sealed record BoundValue(RouteKey Key, ValueSource Source, ConfigNode? Node)
{
    /// <summary>The value as the key's kind; null when absent, written as null, or not of that kind.</summary>
    public object? Value { get; init; }

    /// <summary>Why the node cannot be bound to the key's kind (the text after the key), or null.</summary>
    public string? Problem { get; init; }

    /// <summary>The text shown with <see cref="Problem"/>: the scalar as written, or null for a mapping or a list.</summary>
    public string? ProblemText { get; init; }

    /// <summary>True when the key is absent or written as null (<c>key:</c>, <c>key: ~</c>), which means "the default".</summary>
    public bool IsAbsent => Node is null or ScalarNode { IsNull: true };

    /// <summary>The scalar as written, or null when absent, null or not a scalar.</summary>
    public string? Text => Node is ScalarNode { IsNull: false } scalar ? scalar.Text : null;
}

/// <summary>
/// One mapping of a file, bound key by key: <see cref="Bind"/> finds a declared key and converts what was written to the
/// key's kind. Scalars are accepted when their text parses as the kind, whether quoted or not.
/// </summary>
internal sealed class MappingBinding(string file, string keyPrefix, MappingNode map)
{
    /// <summary>The file the mapping was read from.</summary>
    public string File => file;

    /// <summary>The path of the mapping's keys in the file, e.g. <c>auth.</c>; empty at the top level.</summary>
    public string KeyPrefix => keyPrefix;

    /// <summary>The keys as written, in file order.</summary>
    public IEnumerable<string> WrittenKeys => map.Entries.Select(e => e.Key);

    /// <summary>The node written for <paramref name="key"/>, or null.</summary>
    public ConfigNode? Find(string key)
    {
        foreach (var (k, v) in map.Entries)
        {
            if (k == key)
                return v;
        }

        return null;
    }

    /// <summary><paramref name="key"/> as written, bound to its kind.</summary>
    public BoundValue Bind(RouteKey key)
    {
        var node = Find(key.Name);
        var bound = new BoundValue(key, new ValueSource(file, keyPrefix + key.Name), node);
        if (bound.IsAbsent)
            return bound;

        var wrongKind = bound with { Problem = $"must be {key.Expected}, got {node!.Kind}" };
        if (key.Kind == RouteKeyKind.IntegerList)
            return node is SequenceNode list ? bound with { Value = list.Items.Select(Entry).ToList() } : wrongKind with { ProblemText = (node as ScalarNode)?.Text };
        if (key.Kind == RouteKeyKind.Mapping)
            return node is MappingNode mapping ? bound with { Value = mapping } : wrongKind;
        if (key.Kind == RouteKeyKind.UrlList)
        {
            return node switch
            {
                ScalarNode url => bound with { Value = new[] { url.Text } },
                SequenceNode list when list.Items.All(i => i is ScalarNode { IsNull: false }) => bound with { Value = list.Items.Select(i => ((ScalarNode)i).Text).ToArray() },
                _ => wrongKind,
            };
        }

        if (node is not ScalarNode scalar)
            return wrongKind;
        return key.Kind switch
        {
            RouteKeyKind.Integer => int.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                ? bound with { Value = number }
                : bound with { Problem = $"must be {key.Expected}", ProblemText = scalar.Text },
            RouteKeyKind.Boolean => scalar.Text.Equals("true", StringComparison.OrdinalIgnoreCase) ? bound with { Value = true }
                : scalar.Text.Equals("false", StringComparison.OrdinalIgnoreCase) ? bound with { Value = false }
                : bound with { Problem = "must be true or false", ProblemText = scalar.Text },
            _ => bound with { Value = scalar.Text },
        };
    }

    private static BoundEntry Entry(ConfigNode item) => item switch
    {
        ScalarNode { IsNull: false } scalar when int.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => new(scalar.Text, number),
        ScalarNode scalar => new(scalar.Text, null),
        _ => new(null, null),
    };
}
