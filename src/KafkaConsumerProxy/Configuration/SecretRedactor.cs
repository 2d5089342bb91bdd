using System.Diagnostics.CodeAnalysis;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Decides which librdkafka property values are secrets, so that error messages and logs show <c>***</c> instead.
/// A key is secret when it contains (case-insensitively) <c>password</c>, <c>secret</c>, <c>token</c>,
/// <c>sasl.oauthbearer</c> or <c>key</c>; the last one deliberately over-matches (e.g. <c>ssl.keystore.location</c>)
/// because hiding a harmless value costs less than leaking a key.
/// </summary>
public static class SecretRedactor
{
    /// <summary>What is shown in place of a secret value.</summary>
    public const string Mask = "***";

    private static readonly string[] Markers = ["password", "secret", "token", "sasl.oauthbearer", "key", "authorization"];

    /// <summary>Values shorter than this (4) are not searched for in free text: "1" would mask every digit of a log line.</summary>
    public const int MinHiddenLength = 4;

    // Values resolved from ${env:...} and ${file:...} references; kept for the process's life (a reload adds).
    private static volatile string[] _values = [];
    private static readonly Lock Gate = new();

    /// <summary>Marks <paramref name="value"/> as a secret wherever it appears (<see cref="Hide"/>).</summary>
    public static void Register(string value)
    {
        lock (Gate)
        {
            if (!_values.Contains(value, StringComparer.Ordinal))
                _values = [.. _values, value];
        }
    }

    /// <summary><paramref name="text"/> with every registered secret of <see cref="MinHiddenLength"/> or more characters replaced by <see cref="Mask"/>.</summary>
    [return: NotNullIfNotNull(nameof(text))]
    public static string? Hide(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return text;
        foreach (var value in _values)
        {
            if (value.Length >= MinHiddenLength)
                text = text.Replace(value, Mask, StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>True when the value of property <paramref name="key"/> must never be shown.</summary>
    public static bool IsSecretKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Markers.Any(m => key.Contains(m, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The bytes with every registered secret's UTF-8 bytes (<see cref="MinHiddenLength"/> or more characters) replaced by <see cref="Mask"/>.</summary>
    public static byte[] HideBytes(ReadOnlySpan<byte> bytes)
    {
        var result = bytes.ToArray();
        foreach (var value in _values)
        {
            if (value.Length < MinHiddenLength)
                continue;
            var secret = System.Text.Encoding.UTF8.GetBytes(value);
            int at;
            while ((at = result.AsSpan().IndexOf(secret)) >= 0)
                result = [.. result.AsSpan(0, at), .. "***"u8, .. result.AsSpan(at + secret.Length)];
        }

        return result;
    }

    /// <summary>Returns <see cref="Mask"/> for a secret key's value, otherwise the value unchanged.</summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Redact(string key, string? value) => value is not null && (IsSecretKey(key) || _values.Contains(value, StringComparer.Ordinal)) ? Mask : Hide(value);
}
