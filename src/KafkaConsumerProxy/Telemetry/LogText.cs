using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// Makes text that came from outside (an endpoint's body, a header, an error message) safe to put into a log line or a
/// record: control characters (C0 incl. NUL, CR, LF, ESC; DEL; C1), line and paragraph separators, the BOM and
/// bidirectional overrides become <c>\xNN</c> / <c>\uNNNN</c> escapes, bytes that are not valid UTF-8 become <c>\xNN</c>,
/// and long text is cut with a note of its full size. The result is one line that cannot move a terminal's cursor or
/// forge another log line. Backslashes are kept as they are, so escaping twice changes nothing.
/// </summary>
internal static class LogText
{
    /// <summary>Endpoint text in a log line or skip record is cut after this many characters (after escaping): 200.</summary>
    public const int DefaultMaxChars = 200;

    /// <summary>Escapes and cuts <paramref name="bytes"/> (UTF-8 expected, anything accepted); cut text ends with <c>… (N bytes)</c>.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes, int maxChars = DefaultMaxChars)
    {
        var text = new StringBuilder(Math.Min(bytes.Length, maxChars) + 24);
        var rest = bytes;
        while (!rest.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(rest, out var rune, out var consumed);
            var fits = status == System.Buffers.OperationStatus.Done
                ? Append(text, rune, maxChars)
                : AppendUnit(text, string.Create(CultureInfo.InvariantCulture, $"\\x{rest[0]:X2}"), maxChars);
            if (!fits)
            {
                return text.Append(CultureInfo.InvariantCulture, $"… ({bytes.Length} bytes)").ToString();
            }

            // An invalid sequence is shown one byte at a time, so valid text right after it is shown as text.
            rest = rest[(status == System.Buffers.OperationStatus.Done ? consumed : 1)..];
        }

        return text.ToString();
    }

    /// <summary>Escapes and cuts <paramref name="value"/>; cut text ends with <c>… (N chars)</c>.</summary>
    public static string Escape(string? value, int maxChars = DefaultMaxChars)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value ?? "";
        }

        if (value.Length <= maxChars && !NeedsEscape(value))
        {
            return value;
        }

        var text = new StringBuilder(Math.Min(value.Length, maxChars) + 24);
        for (var i = 0; i < value.Length; i++)
        {
            bool fits;
            if (Rune.TryGetRuneAt(value, i, out var rune))
            {
                fits = Append(text, rune, maxChars);
                i += rune.Utf16SequenceLength - 1;
            }
            else
            {
                fits = AppendUnit(text, string.Create(CultureInfo.InvariantCulture, $"\\u{(int)value[i]:X4}"), maxChars);
            }

            if (!fits)
            {
                return text.Append(CultureInfo.InvariantCulture, $"… ({value.Length} chars)").ToString();
            }
        }

        return text.ToString();
    }

    private static bool NeedsEscape(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsSurrogate(c))
            {
                if (!Rune.TryGetRuneAt(value, i, out _))
                {
                    return true;
                }

                i++;
            }
            else if (IsUnsafe(c))
            {
                return true;
            }
        }

        return false;
    }

    // Appends a rune or its escape whole; false (nothing appended) when it would go past maxChars.
    private static bool Append(StringBuilder text, Rune rune, int maxChars)
    {
        if (rune.Value < 0x10000 && IsUnsafe((char)rune.Value))
        {
            var escape = rune.Value <= 0xFF
                ? string.Create(CultureInfo.InvariantCulture, $"\\x{rune.Value:X2}")
                : string.Create(CultureInfo.InvariantCulture, $"\\u{rune.Value:X4}");
            return AppendUnit(text, escape, maxChars);
        }

        if (text.Length + rune.Utf16SequenceLength > maxChars)
        {
            return false;
        }

        Span<char> chars = stackalloc char[2];
        text.Append(chars[..rune.EncodeToUtf16(chars)]);
        return true;
    }

    private static bool AppendUnit(StringBuilder text, string unit, int maxChars)
    {
        if (text.Length + unit.Length > maxChars)
        {
            return false;
        }

        text.Append(unit);
        return true;
    }

    // C0 (NUL, CR, LF, ESC, ...), DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
    private static bool IsUnsafe(char c) =>
        c < 0x20 || c is >= '\u007F' and <= '\u009F' or '\u2028' or '\u2029' or '\uFEFF'
        || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';
}
