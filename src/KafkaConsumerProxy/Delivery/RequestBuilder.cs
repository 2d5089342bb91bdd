using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Builds the HTTP request for one message: the previous service's form body (<c>m</c>, <c>p</c>, <c>o</c>)
/// plus the headers that let an endpoint de-duplicate and route without parsing the body.
/// </summary>
public static class RequestBuilder
{
    private static readonly MediaTypeHeaderValue FormContentType = new("application/x-www-form-urlencoded");

    /// <summary>Creates the POST for <paramref name="record"/> to <paramref name="target"/>.</summary>
    public static HttpRequestMessage Build(RouteDefinition route, Uri target, KafkaRecord record)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, target)
        {
            Content = new ByteArrayContent(FormBody(record)),
        };
        request.Content.Headers.ContentType = FormContentType;

        var headers = request.Headers;
        if (route.Domain is not null)
        {
            headers.Host = route.Domain;
        }

        var partition = record.Partition.ToString(CultureInfo.InvariantCulture);
        var offset = record.Offset.ToString(CultureInfo.InvariantCulture);
        headers.TryAddWithoutValidation("Idempotency-Key", $"{record.Topic}/{partition}/{offset}");
        headers.TryAddWithoutValidation("X-Kafka-Topic", record.Topic);
        headers.TryAddWithoutValidation("X-Kafka-Partition", partition);
        headers.TryAddWithoutValidation("X-Kafka-Offset", offset);
        headers.TryAddWithoutValidation("X-Kafka-Timestamp", record.TimestampMs.ToString(CultureInfo.InvariantCulture));
        if (record.Key is not null)
        {
            headers.TryAddWithoutValidation("X-Kafka-Key", Encoding.ASCII.GetString(PercentEncode(record.Key, spaceAsPlus: false)));
        }

        return request;
    }

    /// <summary>
    /// <c>m={value}&amp;p={partition}&amp;o={offset}</c>, the value percent-encoded byte by byte so that binary
    /// survives. A null value (tombstone) is sent without <c>m</c>, so an endpoint can tell it from an empty one.
    /// </summary>
    public static byte[] FormBody(KafkaRecord record)
    {
        var tail = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"p={record.Partition}&o={record.Offset}"));
        if (record.Value is null)
        {
            return tail;
        }

        var value = record.Value;
        var size = 2 + EncodedLength(value, spaceAsPlus: true) + 1 + tail.Length;
        var body = new byte[size];
        body[0] = (byte)'m';
        body[1] = (byte)'=';
        var written = 2 + Encode(value, body.AsSpan(2), spaceAsPlus: true);
        body[written++] = (byte)'&';
        tail.CopyTo(body, written);
        return body;
    }

    /// <summary>Percent-encodes every byte outside RFC 3986's unreserved set.</summary>
    public static byte[] PercentEncode(ReadOnlySpan<byte> bytes, bool spaceAsPlus)
    {
        var output = new byte[EncodedLength(bytes, spaceAsPlus)];
        Encode(bytes, output, spaceAsPlus);
        return output;
    }

    private static int EncodedLength(ReadOnlySpan<byte> bytes, bool spaceAsPlus)
    {
        var length = 0;
        foreach (var b in bytes)
        {
            length += IsUnreserved(b) || (spaceAsPlus && b == (byte)' ') ? 1 : 3;
        }

        return length;
    }

    private static int Encode(ReadOnlySpan<byte> bytes, Span<byte> output, bool spaceAsPlus)
    {
        const string Hex = "0123456789ABCDEF";
        var i = 0;
        foreach (var b in bytes)
        {
            if (IsUnreserved(b))
            {
                output[i++] = b;
            }
            else if (b == (byte)' ' && spaceAsPlus)
            {
                output[i++] = (byte)'+';
            }
            else
            {
                output[i++] = (byte)'%';
                output[i++] = (byte)Hex[b >> 4];
                output[i++] = (byte)Hex[b & 0xF];
            }
        }

        return i;
    }

    private static bool IsUnreserved(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
            or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~';
}
