using System.Security.Cryptography;
using System.Text;

namespace KafkaConsumerProxy.Delivery.Auth;

/// <summary>
/// Standard Webhooks signing (https://www.standardwebhooks.com): <c>webhook-signature: v1,{base64 HMAC-SHA256 of
/// "{webhook-id}.{webhook-timestamp}.{body}"}</c> with the shared key.
/// </summary>
internal static class WebhookSignature
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";
    private const string SecretPrefix = "whsec_";

    /// <summary>The key bytes of <c>auth.secret</c>: the decoded base64 after <c>whsec_</c>, else the UTF-8 bytes of the whole string.</summary>
    public static byte[] Key(string secret) =>
        secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? Convert.FromBase64String(secret[SecretPrefix.Length..]) : Encoding.UTF8.GetBytes(secret);

    /// <summary>Why <paramref name="secret"/> cannot be a key, or null (the reason never quotes it).</summary>
    public static string? KeyProblem(string secret)
    {
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
            return secret.Length == 0 ? "must not be empty" : null;
        var buffer = new byte[secret.Length];
        return Convert.TryFromBase64String(secret[SecretPrefix.Length..], buffer, out var length) && length > 0
            ? null
            : "starts with whsec_ but what follows is not base64 (Standard Webhooks' whsec_<base64 key>)";
    }

    /// <summary><c>v1,{signature}</c> of one request.</summary>
    public static string Sign(byte[] key, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return "v1," + Convert.ToBase64String(hmac.GetHashAndReset());
    }
}
