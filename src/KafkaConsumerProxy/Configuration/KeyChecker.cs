using System.Collections.ObjectModel;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Checks the bound keys of one mapping against their <see cref="RouteKey"/> declarations and reports what is wrong, in
/// the order the keys are checked: why a value could not be bound, a required key that is missing, a number out of range,
/// a choice not offered, an empty string. Every key checked is remembered as known, so the keys left over are the
/// unknown ones. Each method returns the value when it passed, or null (absent, or an error was added).
/// </summary>
internal sealed class KeyChecker(MappingBinding map, List<ConfigError> errors)
{
    private const int MaxSuggestionDistance = 3;
    private readonly List<string> _known = [];

    /// <summary>The file the mapping was read from.</summary>
    public string File => map.File;

    /// <summary>How many errors the list holds, to tell whether a group of keys passed.</summary>
    public int ErrorCount => errors.Count;

    /// <summary>Adds an error for <paramref name="key"/> of this mapping; the value is masked when the key names a secret.</summary>
    public void Error(string key, string? value, string message) =>
        errors.Add(new ConfigError(map.File, map.KeyPrefix + key, SecretRedactor.Redact(key, value), message));

    /// <summary>A checker of <paramref name="nested"/>, a mapping inside this one, adding to the same errors.</summary>
    public KeyChecker For(MappingBinding nested) => new(nested, errors);

    /// <summary>Adds an error that names its own key path.</summary>
    public void Add(ConfigError error) => errors.Add(error);

    /// <summary>Remembers <paramref name="key"/> as known without checking it (for keys checked by other code).</summary>
    public void Known(string key) => _known.Add(key);

    /// <summary>A non-empty string, or null.</summary>
    public string? String(BoundValue bound)
    {
        if (!Present(bound))
            return null;
        var text = (string)bound.Value!;
        if (!string.IsNullOrWhiteSpace(text))
            return text;
        Error(bound.Key.Name, text, $"must be {bound.Key.Expected}");
        return null;
    }

    /// <summary>An integer within the declared range, or null.</summary>
    public int? Int(BoundValue bound)
    {
        if (!Present(bound))
            return null;
        var value = (int)bound.Value!;
        if (value >= bound.Key.Min && value <= bound.Key.Max)
            return value;
        Error(bound.Key.Name, bound.Text, $"must be {bound.Key.Expected}");
        return null;
    }

    /// <summary>True or false, or null.</summary>
    public bool? Bool(BoundValue bound) => Present(bound) ? (bool)bound.Value! : null;

    /// <summary>One of the declared choices (matched case-insensitively), returned as the declaration spells it; or null.</summary>
    public string? Choice(BoundValue bound)
    {
        if (!Present(bound))
            return null;
        var text = (string)bound.Value!;
        var match = bound.Key.Choices.FirstOrDefault(c => c.Equals(text, StringComparison.OrdinalIgnoreCase));
        if (match is null)
            Error(bound.Key.Name, text, Closest(text, bound.Key.Choices) is { } suggestion ? $"must be {bound.Key.Expected}; did you mean '{suggestion}'?" : $"must be {bound.Key.Expected}");
        return match;
    }

    /// <summary>A list of integers, each within the declared range; or null. The first entry that is not is reported.</summary>
    public IReadOnlyList<int>? IntList(BoundValue bound)
    {
        if (!Present(bound))
            return null;
        var values = new List<int>();
        foreach (var entry in (IReadOnlyList<BoundEntry>)bound.Value!)
        {
            if (entry.Number is not { } number || number < bound.Key.Min || number > bound.Key.Max)
            {
                Error(bound.Key.Name, entry.Text, $"must be {bound.Key.Expected}; this entry is not");
                return null;
            }

            values.Add(number);
        }

        return values;
    }

    /// <summary>The URLs of a URL list, at least one, or null; each is read by <see cref="EndpointUrl"/>.</summary>
    public IReadOnlyList<string>? UrlList(BoundValue bound)
    {
        if (!Present(bound))
            return null;
        var urls = (string[])bound.Value!;
        if (urls.Length > 0)
            return urls;
        Error(bound.Key.Name, null, $"must be {bound.Key.Expected}");
        return null;
    }

    /// <summary>A mapping, or null.</summary>
    public MappingNode? Mapping(BoundValue bound) => Present(bound) ? (MappingNode)bound.Value! : null;

    /// <summary>A librdkafka property map; values become strings, plain true/false in lower case. Empty when absent or invalid.</summary>
    public IReadOnlyDictionary<string, string> Conf(BoundValue bound)
    {
        // The whole value is never shown when it is not a mapping: `sasl.password=...` may be written inline.
        var node = Mapping(bound);
        if (node is null)
            return ReadOnlyDictionary<string, string>.Empty;

        var key = bound.Key.Name;
        var conf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (property, value) in node.Entries)
        {
            var path = $"{bound.Source.Key}.{property}";
            if (property.Length == 0)
                errors.Add(new ConfigError(map.File, bound.Source.Key, null, "property names must not be empty"));
            else if (ReservedProperty(property) is { } setBy)
                errors.Add(new ConfigError(map.File, path, value is ScalarNode r ? SecretRedactor.Redact(property, r.Text) : null,
                    $"'{property}' is set by kcp {setBy}; remove it from {key}"));
            else if (value is ScalarNode { IsNull: false } scalar)
                conf[property] = RouteBinding.ConfText(scalar);
            else
                errors.Add(new ConfigError(map.File, path, value is ScalarNode s ? SecretRedactor.Redact(property, s.Text) : null,
                    $"must be a string, number or bool, got {value.Kind}"));
        }

        // A secret pasted into the wrong property shows up in librdkafka's reason and as the value: both hide
        // every secret value of the mapping, as the consumer's own error messages do at run time.
        var secrets = conf.Where(p => SecretRedactor.IsSecretKey(p.Key) && p.Value.Length > 0).Select(p => p.Value).ToList();
        string Hide(string text) => secrets.Aggregate(text, (t, secret) => t.Replace(secret, SecretRedactor.Mask, StringComparison.Ordinal));
        foreach (var (property, text) in conf)
        {
            if (LibrdkafkaCheck.PropertyProblem(property, text) is { } problem)
                errors.Add(new ConfigError(map.File, $"{bound.Source.Key}.{property}", Hide(SecretRedactor.Redact(property, text)), $"rejected by librdkafka: {Hide(problem)}"));
        }

        return conf;
    }

    /// <summary>Adds an error for every key of the mapping that was not checked, suggesting the closest known key.</summary>
    public void ReportUnknownKeys()
    {
        foreach (var key in map.WrittenKeys)
        {
            if (_known.Contains(key))
                continue;
            var suggestion = Closest(key, _known);
            Error(key, null, suggestion is null ? "unknown key" : $"unknown key; did you mean '{suggestion}'?");
        }
    }

    // Marks the key known and reports why it cannot be used at all; true when there is a value to check further.
    // An explicit null (`key:` or `key: ~`) of an optional key means "use the default", as YAML users expect.
    private bool Present(BoundValue bound)
    {
        var key = bound.Key;
        _known.Add(key.Name);
        if (bound.Problem is not null)
        {
            Error(key.Name, bound.ProblemText, bound.Problem);
            return false;
        }

        if (!bound.IsAbsent)
            return true;
        if (key.Required && (bound.Node is null || key.Kind == RouteKeyKind.Mapping))
            Error(key.Name, null, $"required key is missing; must be {key.Expected}");
        else if (key.Required)
            Error(key.Name, ((ScalarNode)bound.Node!).Text, $"must be {key.Expected}");
        return false;
    }

    /// <summary>
    /// Where kcp takes the value of a librdkafka property it controls itself, or null when
    /// <paramref name="property"/> is free to set. Matched case-insensitively, aliases included: a user who
    /// writes <c>Group.Id</c> means the group, and learns here rather than from librdkafka at startup.
    /// </summary>
    private string? ReservedProperty(string property) => property.ToLowerInvariant() switch
    {
        "group.id" => "from the route key 'group'",
        "bootstrap.servers" or "metadata.broker.list" => map.KeyPrefix.Length > 0
            ? $"from '{map.KeyPrefix}bootstrap_servers'"
            : "from the bootstrap_servers of the route's cluster (clusters.<name>.bootstrap_servers)",
        "enable.auto.commit" or "auto.commit.enable" or "enable.auto.offset.store" =>
            "(always false): an offset is stored and committed only after its message was delivered or skipped",
        "enable.partition.eof" => "(always false): the consume loop has no use for end-of-partition events",
        _ => null,
    };

    /// <summary>The candidate nearest to <paramref name="written"/> (at most 3 edits, fewer than its length), or null.</summary>
    private static string? Closest(string written, IEnumerable<string> candidates) =>
        candidates
            .Select(c => (Candidate: c, Distance: Levenshtein(written.ToLowerInvariant(), c)))
            .Where(c => c.Distance <= MaxSuggestionDistance && c.Distance < written.Length)
            .OrderBy(c => c.Distance)
            .Select(c => c.Candidate)
            .FirstOrDefault();

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
