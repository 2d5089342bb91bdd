using System.Text;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>Endpoint text in log lines and records: escaped to one safe line and cut.</summary>
public sealed class LogTextTests
{
    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("a\u001b[31mred\u001b[0m", "a\\x1B[31mred\\x1B[0m")]
    [InlineData("nul\0byte", "nul\\x00byte")]
    [InlineData("line1\r\nFAKE: forged line", "line1\\x0D\\x0AFAKE: forged line")]
    [InlineData("tab\tdel\u007fc1\u0085", "tab\\x09del\\x7Fc1\\x85")]
    [InlineData("sep\u2028rlo\u202Eend", "sep\\u2028rlo\\u202Eend")]
    [InlineData("ünïcödé ✓ 😀", "ünïcödé ✓ 😀")]
    [InlineData("back\\x1B slash", "back\\x1B slash")]
    public void Escape_String_ControlAndFormatCharactersEscapedTextKept_Issue7(string input, string expected)
    {
        Assert.Equal(expected, LogText.Escape(input));
        Assert.Equal(expected, LogText.Escape(Encoding.UTF8.GetBytes(input)));
        Assert.Equal(expected, LogText.Escape(LogText.Escape(input)));
    }

    [Fact]
    public void Escape_InvalidUtf8_EachBadByteShownAsHex_Issue7()
    {
        // gzip magic, a lone continuation byte, a truncated 3-byte sequence, then valid text.
        byte[] body = [0x1F, 0x8B, 0x08, 0x00, 0x80, (byte)'o', (byte)'k', 0xE2, 0x82, (byte)'!'];

        Assert.Equal("\\x1F\\x8B\\x08\\x00\\x80ok\\xE2\\x82!", LogText.Escape(body));
    }

    [Fact]
    public void Escape_LoneSurrogate_Escaped_Issue7()
    {
        Assert.Equal("a\\uD800b", LogText.Escape("a\uD800b"));
    }

    [Fact]
    public void Escape_LongBody_CutAtLimitWithFullSize_Issue7()
    {
        var body = Encoding.UTF8.GetBytes(new string('x', 70_000));

        var text = LogText.Escape(body);

        Assert.Equal(new string('x', LogText.DefaultMaxChars) + "… (70000 bytes)", text);
    }

    [Fact]
    public void Escape_CutNeverSplitsAnEscapeOrASurrogatePair_Issue7()
    {
        var escapes = LogText.Escape(new string('\u001b', 100), maxChars: 10);
        var emoji = LogText.Escape(string.Concat(Enumerable.Repeat("😀", 10)), maxChars: 5);

        Assert.Equal("\\x1B\\x1B… (100 chars)", escapes);
        Assert.Equal("😀😀… (20 chars)", emoji);
    }

    [Fact]
    public void Escape_ExactlyAtLimit_NotCut_Issue7()
    {
        var text = new string('y', LogText.DefaultMaxChars);

        Assert.Equal(text, LogText.Escape(text));
        Assert.Equal(text, LogText.Escape(Encoding.ASCII.GetBytes(text)));
    }
}
