using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>One HTTP request as <see cref="RecordingReceiver"/> saw it, and how it was answered.</summary>
public sealed record ReceivedRequest
{
    /// <summary>Arrival order, from 0, across the receiver's lifetime.</summary>
    public required int Sequence { get; init; }

    /// <summary>Time since the receiver started, taken when the request line arrived.</summary>
    public required TimeSpan ArrivedAt { get; init; }

    /// <summary>HTTP method, e.g. POST.</summary>
    public required string Method { get; init; }

    /// <summary>Request path, e.g. <c>/orders</c>.</summary>
    public required string Path { get; init; }

    /// <summary>Query string including the leading <c>?</c>, or empty.</summary>
    public required string Query { get; init; }

    /// <summary>All headers, looked up case-insensitively; repeated headers are joined with ", ".</summary>
    public required IReadOnlyDictionary<string, string> Headers { get; init; }

    /// <summary>The body exactly as received.</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>
    /// Fields of an <c>application/x-www-form-urlencoded</c> body, percent-decoded to raw bytes so
    /// binary values survive; empty for other content types.
    /// </summary>
    public required IReadOnlyList<KeyValuePair<string, byte[]>> Form { get; init; }

    /// <summary>X-Kafka-Partition, or else the form field <c>p</c>, when present and numeric.</summary>
    public int? Partition { get; init; }

    /// <summary>X-Kafka-Offset, or else the form field <c>o</c>, when present and numeric.</summary>
    public long? Offset { get; init; }

    /// <summary>How the receiver answered; <see cref="Fault.None"/> for a normal success.</summary>
    public Fault Fault { get; init; } = Fault.None;

    /// <summary>The body decoded as UTF-8.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body.Span);

    /// <summary>A header's value, or null when absent.</summary>
    public string? Header(string name) => Headers.GetValueOrDefault(name);

    /// <summary>The raw bytes of the first form field named <paramref name="name"/>, or null.</summary>
    public byte[]? FormValueBytes(string name)
    {
        foreach (var field in Form)
        {
            if (field.Key == name)
            {
                return field.Value;
            }
        }

        return null;
    }

    /// <summary>The first form field named <paramref name="name"/> decoded as UTF-8, or null.</summary>
    public string? FormValue(string name) => FormValueBytes(name) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    /// <inheritdoc />
    public override string ToString() =>
        $"#{Sequence} {Method} {Path}{Query} p={Partition?.ToString(CultureInfo.InvariantCulture) ?? "-"} "
        + $"o={Offset?.ToString(CultureInfo.InvariantCulture) ?? "-"} {Body.Length}B at {ArrivedAt.TotalMilliseconds:0}ms -> {Fault}";

    /// <summary>
    /// Decodes an <c>application/x-www-form-urlencoded</c> body byte by byte: '+' is a space and
    /// <c>%XX</c> one byte, with no charset round trip that would mangle binary values.
    /// A malformed escape is kept literally, as browsers do.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, byte[]>> DecodeForm(ReadOnlySpan<byte> body)
    {
        var fields = new List<KeyValuePair<string, byte[]>>();
        while (!body.IsEmpty)
        {
            var end = body.IndexOf((byte)'&');
            var pair = end < 0 ? body : body[..end];
            body = end < 0 ? [] : body[(end + 1)..];
            if (pair.IsEmpty)
            {
                continue;
            }

            var eq = pair.IndexOf((byte)'=');
            var name = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? [] : pair[(eq + 1)..];
            fields.Add(new(Encoding.UTF8.GetString(PercentDecode(name)), PercentDecode(value)));
        }

        return fields;
    }

    private static byte[] PercentDecode(ReadOnlySpan<byte> encoded)
    {
        var decoded = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            var b = encoded[i];
            if (b == '+')
            {
                decoded.Add((byte)' ');
            }
            else if (b == '%' && i + 2 < encoded.Length && HexValue(encoded[i + 1]) is { } hi && HexValue(encoded[i + 2]) is { } lo)
            {
                decoded.Add((byte)((hi << 4) | lo));
                i += 2;
            }
            else
            {
                decoded.Add(b);
            }
        }

        return [.. decoded];
    }

    private static int? HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => null,
    };
}
