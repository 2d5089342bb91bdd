using System.Text;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// An HMAC route's <c>auth.secret</c> as Standard Webhooks writes it: <c>whsec_</c> and the base64 key, or any other
/// string whose UTF-8 bytes are the key. The loader checks it, the redactor hides the key, the signer signs with it.
/// </summary>
internal static class HmacSecret
{
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
}
