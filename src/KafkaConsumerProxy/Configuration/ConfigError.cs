using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// One problem found while loading the configuration.
/// <paramref name="File"/> is the absolute path of the file at fault; <paramref name="Key"/> is the key path inside it
/// (nested keys joined with '.', e.g. <c>clusters.default.bootstrap_servers</c>); <paramref name="Value"/> is the
/// offending value as written, already redacted when it belongs to a secret property.
/// </summary>
internal sealed record ConfigError(string File, string? Key, string? Value, string Message)
{
    private const int MaxShownValueLength = 120;

    /// <summary>The line of the key or value at fault (from 1), when the file gives it (YAML); 0 otherwise.</summary>
    public int Line { get; init; }

    /// <summary>The column of the key or value at fault (from 1); 0 when <see cref="Line"/> is.</summary>
    public int Column { get; init; }

    /// <summary>
    /// Two errors are the same when they name the same file, key, value and problem; where it was found is a detail of
    /// the report, as it is for a compiler's diagnostic.
    /// </summary>
    public bool Equals(ConfigError? other) =>
        other is not null && File == other.File && Key == other.Key && Value == other.Value && Message == other.Message;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(File, Key, Value, Message);

    /// <summary>Where the error is: the path as <see cref="DisplayPath"/> shows it, then <c>:line:column</c> when known.</summary>
    public string Location => Line > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{DisplayPath(File, Environment.CurrentDirectory)}:{Line}:{Column}")
        : DisplayPath(File, Environment.CurrentDirectory);

    /// <summary>
    /// <c>routes/orders.yaml:9:13: key 'retry_nums' = '-1': must be an integer from 0 to 2147483647</c>; the path is
    /// shown relative to the current directory when the file is under it, otherwise absolute, followed by the line and
    /// column of the value (or of the key) when the file gives them. Control characters anywhere in
    /// the line are shown escaped (<c>\r</c>, <c>\n</c>, <c>\t</c>, otherwise <c>\u0000</c> style), so every error
    /// is one line that a terminal or a log shows as written.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder(Location).Append(": ");
        if (Key is not null)
        {
            text.Append("key '").Append(Key).Append('\'');
            if (Value is not null)
                text.Append(" = '").Append(Shorten(Value)).Append('\'');
            text.Append(": ");
        }

        return EscapeControl(SecretRedactor.Hide(text.Append(Message).ToString()));
    }

    /// <summary>
    /// <paramref name="text"/> with control characters (C0 incl. NUL, DEL, C1), line and paragraph separators, the BOM
    /// and bidirectional overrides written as escapes: <c>\r</c>, <c>\n</c>, <c>\t</c>, otherwise <c>\uNNNN</c>.
    /// </summary>
    internal static string EscapeControl(string text)
    {
        if (!text.Any(IsUnsafe))
            return text;
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (c == '\r')
                escaped.Append("\\r");
            else if (c == '\n')
                escaped.Append("\\n");
            else if (c == '\t')
                escaped.Append("\\t");
            else if (IsUnsafe(c))
                escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            else
                escaped.Append(c);
        }

        return escaped.ToString();
    }

    /// <summary>A control character (C0, DEL, C1), a line or paragraph separator, the BOM or a bidirectional override.</summary>
    internal static bool IsUnsafe(char c) =>
        c < 0x20 || c is >= '\u007F' and <= '\u009F' or '\u2028' or '\u2029' or '\uFEFF'
        || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';

    /// <summary>The path as the user would recognise it: relative when under <paramref name="currentDirectory"/>.</summary>
    internal static string DisplayPath(string path, string currentDirectory)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(currentDirectory, full);
        var outside = relative == "." || relative == ".." || Path.IsPathRooted(relative)
            || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        return outside ? full : relative;
    }

    // Keeps every error on one line and a pasted blob from flooding the terminal.
    private static string Shorten(string value)
    {
        var oneLine = EscapeControl(value);
        return oneLine.Length <= MaxShownValueLength ? oneLine : string.Concat(oneLine.AsSpan(0, MaxShownValueLength), "…");
    }
}

/// <summary>Thrown by <see cref="ConfigLoader.Load"/> with every error found, not just the first.</summary>
internal sealed class ConfigException : Exception
{
    /// <summary>Creates the exception; its message has a header line and then one error per line.</summary>
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(Format(errors))
    {
        Errors = errors;
    }

    /// <summary>Every error found, in file order.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }

    private static string Format(IReadOnlyList<ConfigError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return string.Join(Environment.NewLine, errors.Select(e => e.ToString()).Prepend($"{errors.Count} configuration error(s):"));
    }
}
