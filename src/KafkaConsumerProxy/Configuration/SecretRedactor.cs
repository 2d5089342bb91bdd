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

    private static readonly string[] Markers = ["password", "secret", "token", "sasl.oauthbearer", "key"];

    /// <summary>True when the value of property <paramref name="key"/> must never be shown.</summary>
    public static bool IsSecretKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Markers.Any(m => key.Contains(m, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Returns <see cref="Mask"/> for a secret key's value, otherwise the value unchanged.</summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Redact(string key, string? value) => value is not null && IsSecretKey(key) ? Mask : value;
}
