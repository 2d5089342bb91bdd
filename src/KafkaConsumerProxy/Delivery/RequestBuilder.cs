using System.Globalization;
using System.Text;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Builds a route's HTTP requests in its <c>format</c>: the previous service's form body (<c>m</c>, <c>p</c>, <c>o</c>),
/// a JSON envelope (or an array of them for a batch), the raw value, or a CloudEvent (<see cref="CloudEventMapping"/>); plus, on every format, the headers that let
/// an endpoint de-duplicate and route without parsing the body. One instance per route, shared by all its workers.
/// </summary>
internal sealed class RequestBuilder
{
    /// <summary>Prefix of the HTTP headers that carry record headers (form and raw); the Kafka name follows, percent-encoded.</summary>
    public const string RecordHeaderPrefix = "X-Kafka-Header-";

    /// <summary>The attempt of the message or batch this request is, 1 for the first: <c>X-Kafka-Delivery-Attempt</c>.</summary>
    public const string AttemptHeader = "X-Kafka-Delivery-Attempt";

    /// <summary>Set to <c>true</c> on messages replayed from a dead-letter topic.</summary>
    public const string ReplayHeader = "X-Kafka-Replay";

    /// <summary>The id of the range replay (<c>kcp replay</c>) a message is sent again by.</summary>
    public const string RangeReplayHeader = "Kcp-Replay";

    /// <summary>The schema id of a decoded value (<c>value_format</c>); for a batch, the ids of its values in order of first appearance.</summary>
    public const string ValueSchemaIdHeader = "Kcp-Value-Schema-Id";

    /// <summary>The schema id of a decoded key (<c>key_format</c>); for a batch, as <see cref="ValueSchemaIdHeader"/>.</summary>
    public const string KeySchemaIdHeader = "Kcp-Key-Schema-Id";

    private const string FormContentType = "application/x-www-form-urlencoded";
    private const string JsonContentType = "application/json";

    // Partition numbers are few and repeat on every request; their text is made once.
    private static readonly string[] SmallNumbers = [.. Enumerable.Range(0, 1024).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    private readonly EndpointSettings _endpoint;
    private readonly RequestFormat _format;
    private readonly string _rawContentType;
    private readonly CloudEventMapping? _cloudEvents;
    private readonly Action<KafkaRecord, string>? _invalidCloudEvent;

    /// <param name="route">The route whose requests are built.</param>
    /// <param name="invalidCloudEvent">
    /// With <c>format: cloudevents</c>: told of each record that claims to be a CloudEvent but is not a valid one (and is
    /// therefore sent as a new event with <see cref="CloudEventMapping.InvalidAttribute"/>), at its first attempt only.
    /// </param>
    public RequestBuilder(RouteDefinition route, Action<KafkaRecord, string>? invalidCloudEvent = null)
    {
        _invalidCloudEvent = invalidCloudEvent;
        _endpoint = route.Endpoint;
        _format = route.Delivery.Format;
        // A decoded value is JSON text, whatever the producer wrote (content_type is refused with value_format).
        _rawContentType = route.Decoding.ValueFormat == RecordFormat.Bytes ? route.Delivery.ContentType : JsonContentType;
        _cloudEvents = route.Delivery.Format == RequestFormat.CloudEvents ? new CloudEventMapping(route) : null;
    }

    /// <summary>Creates the POST of one message to <paramref name="target"/>, attempt <paramref name="attempt"/>.</summary>
    public HttpRequestMessage Build(Uri target, KafkaRecord record, int attempt = 1)
    {
        var cloudEvent = _cloudEvents?.Inspect(record) ?? default;
        if (attempt == 1 && cloudEvent.Problem is { } problem)
        {
            _invalidCloudEvent?.Invoke(record, problem);
        }

        var (body, contentType) = _format switch
        {
            RequestFormat.Json => (record.Value is { Length: >= JsonEnvelopeContent.MinValueBytes }
                ? new JsonEnvelopeContent(record)
                : new ByteArrayContent(JsonEnvelope.Single(record)), JsonContentType),
            // The record's own array: the value is sent as it is, without a copy.
            RequestFormat.Raw => (new ByteArrayContent(record.Value ?? []), _rawContentType),
            RequestFormat.CloudEvents => (new ByteArrayContent(record.Value ?? []), cloudEvent.ContentType),
            _ => (FormContentOf(record), FormContentType),
        };
        var request = NewRequest(target, body, contentType);
        var headers = request.Headers;
        var partition = Number(record.Partition);
        var offset = record.Offset.ToString(CultureInfo.InvariantCulture);
        var id = string.Concat(record.Topic, "/", partition, "/", offset);
        headers.TryAddWithoutValidation("Idempotency-Key", id);
        headers.TryAddWithoutValidation("X-Kafka-Topic", record.Topic);
        headers.TryAddWithoutValidation("X-Kafka-Partition", partition);
        headers.TryAddWithoutValidation("X-Kafka-Offset", offset);
        headers.TryAddWithoutValidation("X-Kafka-Timestamp", record.TimestampMs.ToString(CultureInfo.InvariantCulture));
        headers.TryAddWithoutValidation(AttemptHeader, Number(attempt));
        if (record.Replay)
        {
            headers.TryAddWithoutValidation(ReplayHeader, "true");
        }

        if (record.ReplayId is not null)
        {
            headers.TryAddWithoutValidation(RangeReplayHeader, record.ReplayId);
        }

        if (record.Key is not null)
        {
            headers.TryAddWithoutValidation("X-Kafka-Key", PercentEncodeToString(record.Key));
        }

        if (record.Schemas is { } schemas)
        {
            AddSchemaIds(headers, [record]);
        }

        if (_format is RequestFormat.Raw or RequestFormat.CloudEvents && record.Value is null)
        {
            // An empty body alone cannot tell a tombstone from an empty value.
            headers.TryAddWithoutValidation("X-Kafka-Tombstone", "true");
        }

        _cloudEvents?.AddHeaders(headers, record, id, cloudEvent);
        if (_format != RequestFormat.Json)
        {
            // JSON carries the record headers in the envelope; the other formats have only HTTP headers for them.
            // A forwarded CloudEvent's own headers became its ce-* headers and Content-Type instead.
            for (var i = 0; i < record.Headers.Count; i++)
            {
                var header = record.Headers[i];
                if (_cloudEvents is not null && CloudEventMapping.IsEventHeader(cloudEvent, i, header))
                {
                    continue;
                }

                headers.TryAddWithoutValidation(RecordHeaderPrefix + PercentEncodeToString(Encoding.UTF8.GetBytes(header.Name)), header.Value is null ? "" : PercentEncodeToString(header.Value));
            }
        }

        return request;
    }

    /// <summary>
    /// Creates the POST of a batch: a JSON array of envelopes, or of CloudEvents with <c>format: cloudevents</c>. All records are of one partition; per-message metadata
    /// is in the envelopes, and the headers name the partition and the offsets (<see cref="DescribeOffsets"/>).
    /// </summary>
    public HttpRequestMessage BuildBatch(Uri target, IReadOnlyList<KafkaRecord> records, int attempt = 1)
    {
        var request = _cloudEvents is null
            ? NewRequest(target, new ByteArrayContent(JsonEnvelope.Batch(records)), JsonContentType)
            : NewRequest(target, new ByteArrayContent(_cloudEvents.Batch(records, attempt == 1 ? _invalidCloudEvent : null)), CloudEventMapping.BatchContentType);
        var headers = request.Headers;
        var first = records[0];
        var partition = Number(first.Partition);
        var offsets = DescribeOffsets(records);
        headers.TryAddWithoutValidation("Idempotency-Key", string.Concat(first.Topic, "/", partition, "/", offsets));
        headers.TryAddWithoutValidation("X-Kafka-Topic", first.Topic);
        headers.TryAddWithoutValidation("X-Kafka-Partition", partition);
        headers.TryAddWithoutValidation("X-Kafka-Offsets", offsets);
        headers.TryAddWithoutValidation("X-Kafka-Batch-Size", Number(records.Count));
        headers.TryAddWithoutValidation(AttemptHeader, Number(attempt));
        if (first.Schemas is not null)
        {
            AddSchemaIds(headers, records);
        }

        return request;
    }

    // The schema ids of decoded keys and values, each id once, in the order the records first name it.
    private static void AddSchemaIds(System.Net.Http.Headers.HttpRequestHeaders headers, IReadOnlyList<KafkaRecord> records)
    {
        static string? Ids(IReadOnlyList<KafkaRecord> records, Func<RecordSchemas, int?> id)
        {
            var ids = records.Select(r => r.Schemas is { } s ? id(s) : null).OfType<int>().Distinct().ToList();
            return ids.Count == 0 ? null : string.Join(',', ids.Select(i => i.ToString(CultureInfo.InvariantCulture)));
        }

        if (Ids(records, s => s.ValueSchemaId) is { } values)
        {
            headers.TryAddWithoutValidation(ValueSchemaIdHeader, values);
        }

        if (Ids(records, s => s.KeySchemaId) is { } keys)
        {
            headers.TryAddWithoutValidation(KeySchemaIdHeader, keys);
        }
    }

    /// <summary>
    /// The offsets of a batch in increasing order, runs of consecutive offsets written as <c>first-last</c>:
    /// <c>5-7,9</c> for 5, 6, 7, 9. A retried batch holds fewer messages, so its text differs from the first try's.
    /// </summary>
    public static string DescribeOffsets(IReadOnlyList<KafkaRecord> records)
    {
        var text = new StringBuilder();
        var i = 0;
        while (i < records.Count)
        {
            var start = records[i].Offset;
            var end = start;
            while (i + 1 < records.Count && records[i + 1].Offset == end + 1)
            {
                end = records[++i].Offset;
            }

            i++;
            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(CultureInfo.InvariantCulture, $"{start}");
            if (end != start)
            {
                text.Append(CultureInfo.InvariantCulture, $"-{end}");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// <c>m={value}&amp;p={partition}&amp;o={offset}</c>, the value percent-encoded byte by byte so that binary
    /// survives. A null value (tombstone) is sent without <c>m</c>, so an endpoint can tell it from an empty one.
    /// </summary>
    public static byte[] FormBody(KafkaRecord record)
    {
        // Sized exactly and written in one pass: this runs for every message of a form route.
        Span<byte> tail = stackalloc byte[48];
        var tailLength = FormTail(record, tail);
        if (record.Value is null)
        {
            return tail[..tailLength].ToArray();
        }

        var value = record.Value;
        var body = new byte[2 + (int)PercentEncoding.EncodedLength(value, spaceAsPlus: true) + 1 + tailLength];
        body[0] = (byte)'m';
        body[1] = (byte)'=';
        var length = 2 + PercentEncoding.Encode(value, body.AsSpan(2), spaceAsPlus: true, out _);
        body[length++] = (byte)'&';
        tail[..tailLength].CopyTo(body.AsSpan(length));
        return body;
    }

    /// <summary>The form body as content: a large value is encoded while it is sent (<see cref="FormContent"/>), not copied first.</summary>
    internal static HttpContent FormContentOf(KafkaRecord record)
    {
        if (record.Value is not { Length: >= FormContent.MinValueBytes } value)
        {
            return new ByteArrayContent(FormBody(record));
        }

        Span<byte> tail = stackalloc byte[48];
        tail[0] = (byte)'&';
        var tailLength = 1 + FormTail(record, tail[1..]);
        return new FormContent(value, tail[..tailLength].ToArray());
    }

    /// <summary>Percent-encodes every byte outside RFC 3986's unreserved set.</summary>
    public static byte[] PercentEncode(ReadOnlySpan<byte> bytes, bool spaceAsPlus)
    {
        var output = new byte[PercentEncoding.EncodedLength(bytes, spaceAsPlus)];
        PercentEncoding.Encode(bytes, output, spaceAsPlus, out _);
        return output;
    }

    /// <summary>As <see cref="PercentEncode"/> (a space is %20), as a header value.</summary>
    public static string PercentEncodeToString(byte[] bytes) =>
        string.Create((int)PercentEncoding.EncodedLength(bytes, spaceAsPlus: false), bytes, static (chars, source) =>
        {
            var i = 0;
            foreach (var b in source)
            {
                if (PercentEncoding.IsUnreserved(b))
                {
                    chars[i++] = (char)b;
                }
                else
                {
                    chars[i++] = '%';
                    chars[i++] = PercentEncoding.Hex[b >> 4];
                    chars[i++] = PercentEncoding.Hex[b & 0xF];
                }
            }
        });

    // p={partition}&o={offset} into tail (48 bytes hold the longest); returns its length.
    private static int FormTail(KafkaRecord record, Span<byte> tail)
    {
        "p="u8.CopyTo(tail);
        var length = 2;
        record.Partition.TryFormat(tail[length..], out var written, default, CultureInfo.InvariantCulture);
        length += written;
        "&o="u8.CopyTo(tail[length..]);
        length += 3;
        record.Offset.TryFormat(tail[length..], out written, default, CultureInfo.InvariantCulture);
        return length + written;
    }

    // A null content type sends none: a forwarded CloudEvent without datacontenttype.
    private HttpRequestMessage NewRequest(Uri target, HttpContent content, string? contentType)
    {
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var request = _endpoint.NewRequest(target);
        request.Content = content;
        return request;
    }

    private static string Number(int value) =>
        (uint)value < (uint)SmallNumbers.Length ? SmallNumbers[value] : value.ToString(CultureInfo.InvariantCulture);
}
