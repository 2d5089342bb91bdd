using System.Text;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Resolves secret references at load, in every string value of kcp.yaml and the route files: <c>${env:NAME}</c> becomes
/// the environment variable NAME, <c>${file:/path}</c> the file's text (UTF-8, at most <see cref="MaxFileBytes"/>, one
/// trailing line break removed; a relative path is taken from the config file's directory). A reference may be the
/// whole value or a part of it (<c>"Bearer ${env:TOKEN}"</c>); <c>$${</c> stands for a literal <c>${</c>. Every resolved
/// value is registered with <see cref="SecretRedactor"/>, so it is masked wherever kcp writes text. An error names the
/// key and the reference, never a value.
/// </summary>
internal static class SecretReferences
{
    /// <summary>64 KiB: the largest secret file read.</summary>
    public const int MaxFileBytes = 64 * 1024;

    private const string Expected = "write ${env:NAME} or ${file:/path}, or $${ for a literal ${";

    /// <summary>The tree with every reference replaced; a value with an unresolved reference is reported and left as written.</summary>
    public static MappingNode Resolve(string file, MappingNode root, List<ConfigError> errors) =>
        (MappingNode)Resolve(file, root, "", errors);

    private static ConfigNode Resolve(string file, ConfigNode node, string path, List<ConfigError> errors) => node switch
    {
        MappingNode map => new MappingNode(map.Entries.Select(e => new KeyValuePair<string, ConfigNode>(e.Key, Entry(file, e.Key, e.Value, path.Length == 0 ? e.Key : $"{path}.{e.Key}", errors))).ToList()),
        SequenceNode list => new SequenceNode(list.Items.Select((item, i) => Resolve(file, item, $"{path}[{i}]", errors)).ToList()),
        ScalarNode { IsNull: false } scalar when scalar.Text.Contains("${", StringComparison.Ordinal) =>
            Text(file, scalar.Text, path, errors) is { } value ? new ScalarNode(value, IsQuoted: true, IsNull: false) : scalar,
        _ => node,
    };

    // Keys are names kcp matches (clusters, headers, librdkafka properties): a reference there is refused, not taken literally.
    private static ConfigNode Entry(string file, string key, ConfigNode value, string path, List<ConfigError> errors)
    {
        if (key.Contains("${", StringComparison.Ordinal))
            errors.Add(new ConfigError(file, path, null, "is a key holding a reference; ${env:...} and ${file:...} are resolved in values only"));
        return Resolve(file, value, path, errors);
    }

    // The text with each reference replaced and each $${ made ${; null after reporting every reference that failed.
    private static string? Text(string file, string text, string path, List<ConfigError> errors)
    {
        var result = new StringBuilder(text.Length);
        var failed = false;
        var at = 0;
        while (at < text.Length)
        {
            var start = text.IndexOf("${", at, StringComparison.Ordinal);
            if (start < 0)
            {
                result.Append(text, at, text.Length - at);
                break;
            }

            if (start > at && text[start - 1] == '$')
            {
                // $${: the text up to the first '$', then a literal "${".
                result.Append(text, at, start - 1 - at).Append("${");
                at = start + 2;
                continue;
            }

            result.Append(text, at, start - at);
            var end = text.IndexOf('}', start + 2);
            if (end < 0)
            {
                errors.Add(new ConfigError(file, path, null, $"has '${{' without a closing '}}': {Expected}"));
                return null;
            }

            var value = Value(file, text[(start + 2)..end], path, errors);
            failed |= value is null;
            result.Append(value);
            at = end + 1;
        }

        return failed ? null : result.ToString();
    }

    private static string? Value(string file, string reference, string path, List<ConfigError> errors)
    {
        string? value;
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            value = name.Length == 0 ? null : Environment.GetEnvironmentVariable(name);
            if (value is null || value.Length == 0)
            {
                errors.Add(new ConfigError(file, path, null, $"refers to the environment variable '{name}' (${{env:{name}}}), which is not set or empty"));
                return null;
            }
        }
        else if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var given = reference[5..];
            var full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, given));
            value = ReadFile(full, out var problem);
            if (value is null)
            {
                errors.Add(new ConfigError(file, path, null, $"refers to the file {full} (${{file:{given}}}), which {problem}"));
                return null;
            }
        }
        else
        {
            errors.Add(new ConfigError(file, path, null, $"is a reference of an unknown kind: {Expected}"));
            return null;
        }

        SecretRedactor.Register(value);
        return value;
    }

    // Read as config files are: never blocking on a FIFO or device, bounded, UTF-8 only.
    private static string? ReadFile(string path, out string problem)
    {
        problem = "";
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            problem = "does not exist";
            return null;
        }

        var errors = new List<ConfigError>();
        var text = ConfigFile.ReadText(path, errors, "a secret file");
        if (text is null)
        {
            problem = errors.Count > 0 ? errors[0].Message : "cannot be read";
            return null;
        }

        if (text.Length > MaxFileBytes)
        {
            problem = $"is larger than {MaxFileBytes} bytes";
            return null;
        }

        text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
        if (text.Length == 0)
            problem = "is empty";
        return text.Length == 0 ? null : text;
    }
}
