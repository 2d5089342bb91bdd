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

    /// <summary>A non-empty string (see <see cref="KeyChecker.String"/>); null when absent or invalid.</summary>
    public string? String(RouteKey key) => _check.String(_binding.Bind(key));

    /// <summary>An integer within the key's range; null when absent or invalid.</summary>
    public int? Int(RouteKey key) => _check.Int(_binding.Bind(key));

    /// <summary>true or false; null when absent or invalid.</summary>
    public bool? Bool(RouteKey key) => _check.Bool(_binding.Bind(key));

    /// <summary>One of the key's choices (matched case-insensitively), returned as the declaration spells it.</summary>
    public string? Choice(RouteKey key) => _check.Choice(_binding.Bind(key));

    public MappingNode? Mapping(RouteKey key) => _check.Mapping(_binding.Bind(key));

    /// <summary>A librdkafka property map; values become strings, plain true/false in lower case.</summary>
    public IReadOnlyDictionary<string, string> Conf(RouteKey key) => _check.Conf(_binding.Bind(key));

    /// <summary>A list of non-empty strings (<c>[a, b]</c>); null when absent or invalid.</summary>
    public IReadOnlyList<string>? StringList(RouteKey declared)
    {
        var key = declared.Name;
        _check.Known(key);
        var node = _binding.Find(key);
        if (node is null or ScalarNode { IsNull: true })
            return null;
        if (node is not SequenceNode sequence)
        {
            Error(key, node is ScalarNode s ? s.Text : null, $"must be {declared.Expected}, got {node.Kind}");
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
