using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The process's secrets and how they are masked. Decides which librdkafka property values are secrets, so that error
/// messages and logs show <c>***</c> instead: a key is secret when it contains (case-insensitively) <c>password</c>,
/// <c>secret</c>, <c>token</c>, <c>sasl.oauthbearer</c> or <c>key</c>; the last one deliberately over-matches (e.g.
/// <c>ssl.keystore.location</c>) because hiding a harmless value costs less than leaking a key. Holds every secret
/// registered at load (resolved references, the routes' <c>auth</c> secrets and their derived forms, see
/// <see cref="RouteRedactor.SecretsOf"/>), each in every <see cref="Forms"/> it may come back in. A route's own
/// redactor (<see cref="RouteRedactor"/>) adds what only it knows, such as OAuth2 tokens fetched at run time.
/// </summary>
internal static class SecretRedactor
{
    /// <summary>What is shown in place of a secret value.</summary>
    public const string Mask = "***";

    /// <summary>Values shorter than this (4) are not searched for in free text: "1" would mask every digit of a log line.</summary>
    public const int MinHiddenLength = 4;

    // Where LogText cuts endpoint text ("… (N bytes)"): a secret cut there shows only its start, which is masked too.
    private const char CutMark = '…';

    private static readonly byte[] MaskBytes = "***"u8.ToArray();

    private static readonly string[] Markers = ["password", "secret", "token", "sasl.oauthbearer", "key", "authorization"];

    // kcp's own keys that name a marker but hold no secret: key_format says how record keys are written.
    private static readonly string[] NotSecrets = ["key_format"];

    // The PHP way (json_encode escapes '/' as "\/"), next to System.Text.Json's default and relaxed escaping.
    private static readonly JavaScriptEncoder[] JsonEncoders = [JavaScriptEncoder.Default, JavaScriptEncoder.UnsafeRelaxedJsonEscaping];

    // Registered values as given, for Redact's exact match; kept for the process's life (a reload adds).
    private static volatile string[] _registered = [];

    // Their forms of MinHiddenLength or more, longest first, as text and as UTF-8.
    private static volatile string[] _forms = [];
    private static volatile byte[][] _formBytes = [];
    private static readonly Lock Gate = new();

    /// <summary>Marks <paramref name="value"/> as a secret wherever it appears, in each of its <see cref="Forms"/> (<see cref="Hide"/>).</summary>
    public static void Register(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (Gate)
        {
            if (_registered.Contains(value, StringComparer.Ordinal))
                return;
            _registered = [.. _registered, value];
            _forms = Longest([.. _forms, .. Forms(value)]);
            _formBytes = [.. _forms.Select(Encoding.UTF8.GetBytes)];
        }
    }

    /// <summary>
    /// <paramref name="text"/> with every registered secret of <see cref="MinHiddenLength"/> or more characters replaced by
    /// <see cref="Mask"/>, in any of its <see cref="Forms"/>; a secret cut by <c>…</c> (where long endpoint text is cut)
    /// is masked from its <see cref="MinHiddenLength"/>th character on.
    /// </summary>
    [return: NotNullIfNotNull(nameof(text))]
    public static string? Hide(string? text) => HideIn(text, _forms);

    /// <summary>True when the value of property <paramref name="key"/> must never be shown.</summary>
    public static bool IsSecretKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return !NotSecrets.Contains(key, StringComparer.Ordinal) && Markers.Any(m => key.Contains(m, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The bytes with every registered secret's UTF-8 bytes (<see cref="MinHiddenLength"/> or more characters) replaced by <see cref="Mask"/>.</summary>
    public static byte[] HideBytes(ReadOnlySpan<byte> bytes) => HideBytesIn(bytes, _formBytes, cut: false);

    /// <summary>
    /// Returns <see cref="Mask"/> for a secret key's value or a registered secret of <see cref="MinHiddenLength"/> or more
    /// characters, otherwise the value with registered secrets hidden (<see cref="Hide"/>). A shorter registered value is
    /// shown, as it is in free text: "abc" as a port is not taken for a secret someone else chose.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Redact(string key, string? value) =>
        value is not null && (IsSecretKey(key) || (value.Length >= MinHiddenLength && _registered.Contains(value, StringComparer.Ordinal))) ? Mask : Hide(value);

    /// <summary>
    /// The ways <paramref name="secret"/> may come back in an endpoint's answer: as it is, JSON-escaped (System.Text.Json's
    /// default and relaxed escaping, and with <c>\/</c> as PHP writes it) and percent-encoded; only forms of
    /// <see cref="MinHiddenLength"/> or more characters.
    /// </summary>
    public static IReadOnlyList<string> Forms(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var forms = new List<string> { secret, Uri.EscapeDataString(secret) };
        foreach (var encoder in JsonEncoders)
        {
            var json = JsonEncodedText.Encode(secret, encoder).ToString();
            forms.Add(json);
            forms.Add(json.Replace("/", "\\/", StringComparison.Ordinal));
        }

        return Longest(forms);
    }

    /// <summary>Distinct forms of <see cref="MinHiddenLength"/> or more characters, longest first (a longer form is masked whole before a shorter one inside it).</summary>
    internal static string[] Longest(IEnumerable<string> forms) =>
        [.. forms.Where(f => f.Length >= MinHiddenLength).Distinct(StringComparer.Ordinal).OrderByDescending(f => f.Length)];

    /// <summary><paramref name="text"/> with <paramref name="forms"/> (longest first) masked, and their starts before a cut mark.</summary>
    [return: NotNullIfNotNull(nameof(text))]
    internal static string? HideIn(string? text, IReadOnlyList<string> forms)
    {
        if (string.IsNullOrEmpty(text) || forms.Count == 0)
            return text;
        foreach (var form in forms)
            text = text.Replace(form, Mask, StringComparison.Ordinal);
        if (!text.Contains(CutMark, StringComparison.Ordinal))
            return text;

        // From the last mark back, so masking one never moves an earlier one.
        var marks = new List<int>();
        for (var at = text.IndexOf(CutMark, StringComparison.Ordinal); at >= 0; at = text.IndexOf(CutMark, at + 1))
            marks.Add(at);
        for (var i = marks.Count - 1; i >= 0; i--)
        {
            var at = marks[i];
            var cut = forms.Max(f => CutLength(text.AsSpan(0, at), f.AsSpan()));
            if (cut > 0)
                text = string.Concat(text.AsSpan(0, at - cut), Mask, text.AsSpan(at));
        }

        return text;
    }

    /// <summary>
    /// The bytes with <paramref name="forms"/> masked; with <paramref name="cut"/> (the bytes are the start of a longer
    /// body) a secret's start at the very end is masked too.
    /// </summary>
    internal static byte[] HideBytesIn(ReadOnlySpan<byte> bytes, IReadOnlyList<byte[]> forms, bool cut)
    {
        var result = bytes.ToArray();
        foreach (var form in forms)
        {
            int at;
            while ((at = result.AsSpan().IndexOf(form)) >= 0)
                result = [.. result.AsSpan(0, at), .. MaskBytes, .. result.AsSpan(at + form.Length)];
        }

        if (cut && forms.Count > 0)
        {
            var length = forms.Max(f => CutLength<byte>(result, f));
            if (length > 0)
                result = [.. result.AsSpan(0, result.Length - length), .. MaskBytes];
        }

        return result;
    }

    /// <summary>The registered forms, longest first, as text and as UTF-8 (for a route's redactor).</summary>
    internal static (string[] Text, byte[][] Bytes) Registered => (_forms, _formBytes);

    // How many characters of the start of form (at least MinHiddenLength, fewer than all) `before` ends with; 0: none.
    private static int CutLength<T>(ReadOnlySpan<T> before, ReadOnlySpan<T> form)
        where T : IEquatable<T>
    {
        for (var length = Math.Min(form.Length - 1, before.Length); length >= MinHiddenLength; length--)
        {
            if (before[^length..].SequenceEqual(form[..length]))
                return length;
        }

        return 0;
    }
}
