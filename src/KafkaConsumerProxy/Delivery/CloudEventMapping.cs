using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// <c>format: cloudevents</c>: turns records into CloudEvents 1.0 in the HTTP binding (v1.0.2). A plain record becomes a
/// new event in binary content mode: <c>ce-specversion: 1.0</c>, <c>ce-id: {topic}/{partition}/{offset}</c>,
/// <c>ce-source: kafka://{cluster}/{topic}</c>, <c>ce-type</c> (<c>cloudevents_type</c>), <c>ce-time</c> (the record
/// timestamp, RFC 3339 UTC, omitted when the record has none), <c>ce-subject</c> (the key, when it is UTF-8 text without
/// control characters), the value as the body and the record's <c>content-type</c> header (else
/// <c>application/octet-stream</c>) as Content-Type. A record that already is a CloudEvent in the Kafka binding is sent
/// as that event: binary mode (<c>ce_*</c> headers) as <c>ce-*</c> headers, structured mode
/// (<c>content-type: application/cloudevents+json</c>) as its value unchanged. A record that claims to be a CloudEvent
/// but is not a valid one is sent as a new event, with <see cref="InvalidAttribute"/> saying why. A batch is an
/// <c>application/cloudevents-batch+json</c> array of the same events in the JSON format.
/// One instance per route, shared by all its workers.
/// </summary>
/// <remarks>
/// Written by hand rather than with the CloudNative.CloudEvents SDK, which the tests use to read what kcp sends. The SDK
/// cannot produce three things kcp does: a structured-mode record is forwarded as its value byte for byte, where the
/// SDK's <c>JsonEventFormatter</c> decodes it into a <c>CloudEvent</c> and writes it anew (its own member order and
/// number and string text); a record that claims to be a CloudEvent but is not a valid one is delivered as a new event
/// whose <see cref="InvalidAttribute"/> names the problem, where the SDK's readers throw on the first problem with texts
/// of their own; and every event of a batch is written straight into the request body, with no <c>CloudEvent</c>
/// object, attribute dictionary and <c>Uri</c> per record.
/// </remarks>
internal sealed class CloudEventMapping
{
    /// <summary>The only CloudEvents version made and forwarded.</summary>
    public const string SpecVersion = "1.0";

    /// <summary>Content-Type of a batch.</summary>
    public const string BatchContentType = "application/cloudevents-batch+json";

    /// <summary>Content-Type (and <c>datacontenttype</c>) of a new event whose record has no usable <c>content-type</c> header.</summary>
    public const string DefaultContentType = "application/octet-stream";

    /// <summary>
    /// The extension attribute (<c>ce-kcpinvalid</c> header, <c>kcpinvalid</c> in a batch) of a new event made from a
    /// record that had <c>ce_*</c> headers or a CloudEvents content type but was not a valid CloudEvent; it says why.
    /// </summary>
    public const string InvalidAttribute = "kcpinvalid";

    /// <summary>Kafka binding: the prefix of a binary-mode event's attribute headers.</summary>
    internal const string KafkaAttributePrefix = "ce_";

    internal const string StructuredMediaType = "application/cloudevents+json";
    private const string Hex = "0123456789ABCDEF";

    /// <summary>The last millisecond <see cref="DateTime"/> can hold (9999-12-31T23:59:59.999Z).</summary>
    private const long MaxTimestampMs = 253_402_300_799_999;

    /// <summary>More <c>ce_*</c> headers than this (64) make a record no CloudEvent: the duplicate check is quadratic.</summary>
    internal const int MaxAttributes = 64;

    private readonly string _cluster;
    private readonly string _type;
    private readonly string _typeHeader;
    private readonly string _topic;
    private readonly string _source;
    private readonly string _sourceHeader;

    // Records of a topic mostly carry one content type; its text is made once instead of per record.
    private CachedText? _lastContentType;

    /// <param name="cluster">The route's cluster name, as in <c>ce-source: kafka://{cluster}/{topic}</c>.</param>
    /// <param name="topic">The route's topic; records of other topics (none in practice) get their source made per record.</param>
    /// <param name="type">The <c>type</c> of new events (<c>cloudevents_type</c>).</param>
    public CloudEventMapping(string cluster, string topic, string type)
    {
        _cluster = cluster;
        _type = type;
        _typeHeader = HeaderValue(Encoding.UTF8.GetBytes(type));
        _topic = topic;
        _source = CloudEventSource.Of(cluster, topic);
        _sourceHeader = HeaderValue(Encoding.UTF8.GetBytes(_source));
    }

    /// <summary>The mapping of <paramref name="route"/>'s records.</summary>
    public CloudEventMapping(RouteDefinition route)
        : this(route.Cluster, route.Topic, route.Delivery.CloudEventsType)
    {
    }

    /// <summary>What a record is: a new event to make, or a CloudEvent to forward, and with which content type.</summary>
    internal Inspection Inspect(KafkaRecord record)
    {
        var headers = record.Headers;
        var contentTypeIndex = -1;
        var hasAttributes = false;
        for (var i = 0; i < headers.Count; i++)
        {
            var name = headers[i].Name;
            if (name.StartsWith(KafkaAttributePrefix, StringComparison.Ordinal))
                hasAttributes = true;
            else if (name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
                contentTypeIndex = i;
        }

        if (!hasAttributes && contentTypeIndex < 0)
            return new Inspection(RecordKind.New, -1, DefaultContentType, null);

        var contentType = contentTypeIndex < 0 ? null : headers[contentTypeIndex].Value;
        var usableContentType = contentType is not null && CloudEventChecks.IsMediaType(contentType);
        if (usableContentType && CloudEventChecks.IsCloudEventsMediaType(contentType!, out var structured))
        {
            // The Kafka binding: a CloudEvents content type means structured mode, whatever ce_ headers there are.
            // A new event made of it must not carry that content type: it would read as structured mode again.
            if (!structured)
                return new Inspection(RecordKind.New, contentTypeIndex, DefaultContentType, "content-type is a CloudEvents format other than application/cloudevents+json; only JSON structured events are forwarded as they are");
            return CloudEventChecks.StructuredProblem(record.Value) is { } problem
                ? new Inspection(RecordKind.New, contentTypeIndex, DefaultContentType, problem)
                : new Inspection(RecordKind.Structured, contentTypeIndex, ContentTypeText(contentType!), null);
        }

        var newContentType = usableContentType ? ContentTypeText(contentType!) : DefaultContentType;
        if (hasAttributes)
        {
            if (CloudEventChecks.BinaryProblem(headers) is { } problem)
                return new Inspection(RecordKind.New, contentTypeIndex, newContentType, problem);
            if (contentType is not null && !usableContentType)
                return new Inspection(RecordKind.New, contentTypeIndex, newContentType, "content-type is not a media type of printable ASCII");
            return new Inspection(RecordKind.Binary, contentTypeIndex, contentType is null ? null : newContentType, null);
        }

        return new Inspection(RecordKind.New, contentTypeIndex, newContentType, null);
    }

    /// <summary>True when record header <paramref name="index"/> became part of the event (a forwarded attribute or its content type).</summary>
    internal static bool IsEventHeader(in Inspection inspection, int index, KafkaHeader header) => inspection.Kind switch
    {
        RecordKind.Binary => index == inspection.ContentTypeIndex || header.Name.StartsWith(KafkaAttributePrefix, StringComparison.Ordinal),
        RecordKind.Structured => index == inspection.ContentTypeIndex,
        _ => false,
    };

    /// <summary>Adds the <c>ce-*</c> headers of a single binary-mode request; <paramref name="id"/> is <c>{topic}/{partition}/{offset}</c>.</summary>
    internal void AddHeaders(HttpRequestHeaders headers, KafkaRecord record, string id, in Inspection inspection)
    {
        switch (inspection.Kind)
        {
            case RecordKind.Structured:
                return;
            case RecordKind.Binary:
                foreach (var header in record.Headers)
                {
                    if (header.Name.StartsWith(KafkaAttributePrefix, StringComparison.Ordinal))
                        headers.TryAddWithoutValidation(string.Concat("ce-", header.Name.AsSpan(KafkaAttributePrefix.Length)), HeaderValue(header.Value!));
                }

                return;
        }

        headers.TryAddWithoutValidation("ce-specversion", SpecVersion);
        // Topic names are unreserved characters, '/' and digits need no encoding.
        headers.TryAddWithoutValidation("ce-id", id);
        headers.TryAddWithoutValidation("ce-source", record.Topic == _topic ? _sourceHeader : HeaderValue(Encoding.UTF8.GetBytes(CloudEventSource.Of(_cluster, record.Topic))));
        headers.TryAddWithoutValidation("ce-type", _typeHeader);
        Span<char> time = stackalloc char[24];
        if (TryFormatTime(record.TimestampMs, time, out var written))
            headers.TryAddWithoutValidation("ce-time", new string(time[..written]));
        if (IsSubject(record.Key))
            headers.TryAddWithoutValidation("ce-subject", HeaderValue(record.Key!));
        if (inspection.Problem is not null)
            headers.TryAddWithoutValidation("ce-" + InvalidAttribute, HeaderValue(Encoding.UTF8.GetBytes(inspection.Problem)));
    }

    /// <summary>
    /// The body of a batch: a JSON array with each record's event in the JSON format, in the order given;
    /// <paramref name="invalid"/> is told of each record that claims to be a CloudEvent but is not a valid one.
    /// </summary>
    public byte[] Batch(IReadOnlyList<KafkaRecord> records, Action<KafkaRecord, string>? invalid = null)
    {
        var json = ThreadJsonWriter.Rent();
        json.WriteStartArray();
        for (var i = 0; i < records.Count; i++)
            Write(json, records[i], invalid);
        json.WriteEndArray();
        return ThreadJsonWriter.Finish(json);
    }

    /// <summary>Writes one record's event in the CloudEvents JSON format.</summary>
    internal void Write(Utf8JsonWriter json, KafkaRecord record, Action<KafkaRecord, string>? invalid = null)
    {
        var inspection = Inspect(record);
        if (inspection.Problem is { } problem)
            invalid?.Invoke(record, problem);
        if (inspection.Kind == RecordKind.Structured)
        {
            // Validated as one JSON object by Inspect.
            json.WriteRawValue(record.Value!, skipInputValidation: true);
            return;
        }

        json.WriteStartObject();
        if (inspection.Kind == RecordKind.Binary)
        {
            foreach (var header in record.Headers)
            {
                if (header.Name.StartsWith(KafkaAttributePrefix, StringComparison.Ordinal))
                    json.WriteString(header.Name.AsSpan(KafkaAttributePrefix.Length), header.Value);
            }
        }
        else
        {
            json.WriteString("specversion"u8, "1.0"u8);
            Span<char> id = stackalloc char[record.Topic.Length + 32];
            var length = record.Topic.Length;
            record.Topic.CopyTo(id);
            id[length++] = '/';
            record.Partition.TryFormat(id[length..], out var written, default, CultureInfo.InvariantCulture);
            length += written;
            id[length++] = '/';
            record.Offset.TryFormat(id[length..], out written, default, CultureInfo.InvariantCulture);
            length += written;
            json.WriteString("id"u8, id[..length]);
            json.WriteString("source"u8, record.Topic == _topic ? _source : CloudEventSource.Of(_cluster, record.Topic));
            json.WriteString("type"u8, _type);
            Span<char> time = stackalloc char[24];
            if (TryFormatTime(record.TimestampMs, time, out written))
                json.WriteString("time"u8, time[..written]);
            if (IsSubject(record.Key))
                json.WriteString("subject"u8, record.Key);
        }

        if (inspection.ContentType is not null)
            json.WriteString("datacontenttype"u8, inspection.ContentType);
        if (record.Value is { } value)
        {
            if (inspection.ContentType is not null && CloudEventChecks.IsJsonMediaType(inspection.ContentType) && CloudEventChecks.IsJson(value))
            {
                json.WritePropertyName("data"u8);
                json.WriteRawValue(value, skipInputValidation: true);
            }
            else
            {
                json.WriteBase64String("data_base64"u8, value);
            }
        }

        if (inspection.Kind == RecordKind.New && inspection.Problem is not null)
        {
            json.WriteString(InvalidAttribute, inspection.Problem);
        }

        json.WriteEndObject();
    }

    /// <summary>
    /// A header value per the HTTP binding (3.1.3.2): UTF-8 bytes, with space, <c>"</c>, <c>%</c> and everything outside
    /// printable ASCII percent-encoded (upper-case hex).
    /// </summary>
    public static string HeaderValue(byte[] utf8)
    {
        var length = 0;
        foreach (var b in utf8)
            length += KeptInHeader(b) ? 1 : 3;
        return string.Create(length, utf8, static (chars, source) =>
        {
            var i = 0;
            foreach (var b in source)
            {
                if (KeptInHeader(b))
                {
                    chars[i++] = (char)b;
                }
                else
                {
                    chars[i++] = '%';
                    chars[i++] = Hex[b >> 4];
                    chars[i++] = Hex[b & 0xF];
                }
            }
        });
    }

    /// <summary>
    /// True when <paramref name="bytes"/> are valid UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F):
    /// what a CloudEvents string attribute may hold.
    /// </summary>
    public static bool IsCleanText(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes))
            return false;
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            // U+0080-U+009F are C2 80 to C2 9F in UTF-8.
            if (b < 0x20 || b == 0x7F || (b == 0xC2 && i + 1 < bytes.Length && bytes[i + 1] <= 0x9F))
                return false;
        }

        return true;
    }

    /// <summary>
    /// An RFC 3339 date-time (<c>2026-12-01T14:02:12.345Z</c>, <c>...+01:00</c>) that exists in the calendar, with an
    /// upper-case <c>T</c> and <c>Z</c>: RFC 3339 allows lower case too, but the CloudEvents .NET SDK refuses it.
    /// </summary>
    public static bool IsRfc3339(ReadOnlySpan<byte> s)
    {
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
            return false;
        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
            return false;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return false;
        var i = 19;
        if (s[i] == '.')
        {
            var start = ++i;
            while (i < s.Length && char.IsAsciiDigit((char)s[i]))
                i++;
            if (i == start)
                return false;
        }

        if (i == s.Length - 1 && s[i] == 'Z')
            return true;
        return i == s.Length - 6 && s[i] is (byte)'+' or (byte)'-' && s[i + 3] == ':'
            && Digits(s, i + 1, 2, out var offsetHours) && Digits(s, i + 4, 2, out var offsetMinutes) && offsetHours <= 23 && offsetMinutes <= 59;
    }

    /// <summary>The record timestamp as RFC 3339 UTC with milliseconds; false for a negative (absent) or unrepresentable one.</summary>
    internal static bool TryFormatTime(long timestampMs, Span<char> destination, out int written)
    {
        written = 0;
        if (timestampMs is < 0 or > MaxTimestampMs)
            return false;
        var time = DateTime.UnixEpoch.AddTicks(timestampMs * TimeSpan.TicksPerMillisecond);
        return time.TryFormat(destination, out written, "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'", CultureInfo.InvariantCulture);
    }

    // A key is the subject when it is non-empty text (the spec wants a non-empty string without control characters).
    private static bool IsSubject(byte[]? key) => key is { Length: > 0 } && IsCleanText(key);


    private string ContentTypeText(byte[] bytes)
    {
        var last = Volatile.Read(ref _lastContentType);
        if (last is not null && last.Bytes.AsSpan().SequenceEqual(bytes))
            return last.Text;
        var text = Encoding.ASCII.GetString(bytes);
        Volatile.Write(ref _lastContentType, new CachedText(bytes, text));
        return text;
    }

    private static bool KeptInHeader(byte b) => b is > 0x20 and < 0x7F and not (byte)'"' and not (byte)'%';

    private static bool Digits(ReadOnlySpan<byte> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit((char)s[i]))
                return false;
            value = (value * 10) + (s[i] - '0');
        }

        return true;
    }

    private sealed record CachedText(byte[] Bytes, string Text);

    /// <summary>What this mapping does with a record.</summary>
    internal enum RecordKind
    {
        /// <summary>A new event made by kcp from the record.</summary>
        New,

        /// <summary>A CloudEvent in the Kafka binding's binary mode (<c>ce_*</c> headers), forwarded.</summary>
        Binary,

        /// <summary>A CloudEvent in structured mode (<c>content-type: application/cloudevents+json</c>), forwarded.</summary>
        Structured,
    }

    /// <summary>
    /// The result of <see cref="Inspect"/>: the kind, the record header that holds the content type (-1
    /// for none), the Content-Type to send (null: none, for a binary event without one), and for a record that claimed to
    /// be a CloudEvent but was not, why.
    /// </summary>
    internal readonly record struct Inspection(RecordKind Kind, int ContentTypeIndex, string? ContentType, string? Problem);
}
