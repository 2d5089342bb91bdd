using System.Collections.ObjectModel;
using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads typed values from one mapping and reports what is wrong with them. Every key read is remembered as
/// known, so the keys left over are the unknown ones. Typed readers return null when the key is absent (or null
/// in the file) or invalid; the caller discards the whole object when any error was added.
/// </summary>
internal sealed class MapReader(string file, MappingNode map, List<ConfigError> errors, string keyPrefix = "")
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

    /// <summary>A string key as <paramref name="key"/> declares it: "" when a required key is missing, null when an optional one is.</summary>
    public string? String(RouteKey key) => key.Required ? RequiredString(key.Name) : OptionalString(key.Name);

    /// <summary>An integer key within the range <paramref name="key"/> declares.</summary>
    public int? Int(RouteKey key) => Int(key.Name, key.Min, key.Max, key.Required);

    /// <summary>A true/false key as <paramref name="key"/> declares it.</summary>
    public bool? Bool(RouteKey key) => Bool(key.Name, key.Required);

    /// <summary>One of the choices <paramref name="key"/> declares.</summary>
    public string? Choice(RouteKey key) => Choice(key.Name, [.. key.Choices]);

    /// <summary>A list of integers within the range <paramref name="key"/> declares.</summary>
    public IReadOnlyList<int>? IntList(RouteKey key) => IntList(key.Name, key.Min, key.Max);

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
