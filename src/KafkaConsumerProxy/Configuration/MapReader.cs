namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads typed values from one mapping of the main file and reports what is wrong with them, key by key: each call binds
/// the key (<see cref="MappingBinding"/>) and checks it at once (<see cref="KeyChecker"/>). Route files are bound whole
/// first and checked after (<see cref="RouteBinder"/>, <see cref="RouteValidator"/>). Typed readers return null when the
/// key is absent (or null in the file) or invalid; the caller discards the whole object when any error was added.
/// </summary>
internal sealed class MapReader
{
    private readonly MappingBinding _binding;
    private readonly KeyChecker _check;

    public MapReader(string file, MappingNode map, List<ConfigError> errors, string keyPrefix = "")
    {
        _binding = new MappingBinding(file, keyPrefix, map);
        _check = new KeyChecker(_binding, errors);
    }

    public string File => _binding.File;

    public int ErrorCount => _check.ErrorCount;

    /// <summary>The text written for <paramref name="key"/>, or <paramref name="defaultValue"/> when it is not a scalar.</summary>
    public string WrittenOrDefault(string key, string defaultValue) => _binding.Find(key) is ScalarNode { IsNull: false } s ? s.Text : defaultValue;

    public void Error(string key, string? value, string message) => _check.Error(key, value, message);

    public string RequiredString(string key) => _check.String(_binding.Bind(RouteKey.RequiredString(key))) ?? "";

    public string? OptionalString(string key) => _check.String(_binding.Bind(RouteKey.String(key)));

    public int? Int(string key, int min, int max, bool required) =>
        _check.Int(_binding.Bind(new RouteKey(key, RouteKeyKind.Integer) { Min = min, Max = max, Required = required }));

    public bool? Bool(string key, bool required) => _check.Bool(_binding.Bind(new RouteKey(key, RouteKeyKind.Boolean) { Required = required }));

    /// <summary>One of <paramref name="choices"/> (matched case-insensitively), returned as spelled in the list.</summary>
    public string? Choice(string key, string[] choices) => _check.Choice(_binding.Bind(new RouteKey(key, RouteKeyKind.Choice) { Choices = choices }));

    public MappingNode? Mapping(string key, bool required, string expected) =>
        _check.Mapping(_binding.Bind(new RouteKey(key, RouteKeyKind.Mapping) { Required = required, Shape = expected }));

    /// <summary>A librdkafka property map; values become strings, plain true/false in lower case.</summary>
    public IReadOnlyDictionary<string, string> Conf(string key) => _check.Conf(_binding.Bind(RouteKey.Mapping(key, RouteDefinition.ConfShape)));

    /// <summary>A list of non-empty strings (<c>[a, b]</c>); null when absent or invalid.</summary>
    public IReadOnlyList<string>? StringList(string key)
    {
        _check.Known(key);
        var node = _binding.Find(key);
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

    public void ReportUnknownKeys() => _check.ReportUnknownKeys();
}
