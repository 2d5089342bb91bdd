namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Gives each configuration error the line and column of what it names, read from the file's tree: the value of its key
/// when the error shows a value that was written as a scalar, otherwise the key itself (an unknown key, a mapping where
/// a number belongs). Key paths join nested keys with
/// '.', and librdkafka property names hold dots too (<c>consumer_conf.ssl.key.password</c>), so a path is matched against
/// the longest key of each mapping that it starts with. Errors that name no key, or a key the file does not hold (a
/// missing required key), keep no position.
/// </summary>
internal static class ConfigPositions
{
    /// <summary><paramref name="errors"/> from <paramref name="from"/> on, located in <paramref name="root"/> when they are about <paramref name="file"/>.</summary>
    public static void Locate(List<ConfigError> errors, int from, string file, MappingNode root)
    {
        for (var i = from; i < errors.Count; i++)
        {
            var error = errors[i];
            if (error.Line > 0 || error.Key is null || error.File != file)
                continue;
            if (Find(root, error.Key, error.Value is not null) is var (line, column) && line > 0)
                errors[i] = error with { Line = line, Column = column };
        }
    }

    /// <summary>Where <paramref name="path"/> is written in <paramref name="map"/>: its value when <paramref name="atValue"/> and a scalar, else its key.</summary>
    private static (int Line, int Column)? Find(MappingNode map, string path, bool atValue)
    {
        var best = -1;
        for (var i = 0; i < map.Entries.Count; i++)
        {
            var key = map.Entries[i].Key;
            var matches = path == key || (path.Length > key.Length && path.StartsWith(key, StringComparison.Ordinal) && path[key.Length] == '.');
            if (matches && (best < 0 || key.Length > map.Entries[best].Key.Length))
                best = i;
        }

        if (best < 0)
            return null;
        var (name, value) = map.Entries[best];
        if (path.Length > name.Length && value is MappingNode nested && Find(nested, path[(name.Length + 1)..], atValue) is { } inner)
            return inner;
        if (atValue && value is ScalarNode { Line: > 0 } scalar && !scalar.IsNull)
            return (scalar.Line, scalar.Column);
        return best < map.KeyMarks.Count ? map.KeyMarks[best] : null;
    }
}
