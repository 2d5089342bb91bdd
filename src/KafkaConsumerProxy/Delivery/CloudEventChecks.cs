using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The checks behind <see cref="CloudEventMapping"/>'s decision whether a record is a CloudEvent it can forward: the
/// Kafka binding's binary mode (<c>ce_*</c> headers), structured mode (one JSON object), the attributes' types, and the
/// media types involved. Each problem is the text a new event carries in <see cref="CloudEventMapping.InvalidAttribute"/>.
/// </summary>
internal static class CloudEventChecks
{
    // Why the ce_ headers are not a CloudEvent this code can forward, or null. Problems name headers percent-encoded.
    internal static string? BinaryProblem(IReadOnlyList<KafkaHeader> headers)
    {
        var required = 0;
        var attributes = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            if (!name.StartsWith(CloudEventMapping.KafkaAttributePrefix, StringComparison.Ordinal))
                continue;
            if (++attributes > CloudEventMapping.MaxAttributes)
                return $"more than {CloudEventMapping.MaxAttributes} ce_ record headers";
            var attribute = name.AsSpan(CloudEventMapping.KafkaAttributePrefix.Length);
            if (!IsAttributeName(attribute))
                return $"record header {RequestBuilder.PercentEncodeToString(Encoding.UTF8.GetBytes(name))} is not ce_ and a CloudEvents attribute name (a-z, 0-9)";
            if (attribute is "data" or "datacontenttype")
                return $"record header {name} is not an attribute of the Kafka binding (the content type is the content-type header)";
            if (value is null or { Length: 0 })
                return $"record header {name} is empty";
            if (!CloudEventMapping.IsCleanText(value))
                return $"record header {name} is not UTF-8 text without control characters";
            for (var j = 0; j < i; j++)
            {
                if (headers[j].Name.Length == name.Length && headers[j].Name == name)
                    return $"record header {name} is given twice";
            }

            if (AttributeProblem(attribute, name, Encoding.UTF8.GetString(value), ref required) is { } problem)
                return problem;
        }

        return MissingAttribute(required, CloudEventMapping.KafkaAttributePrefix);
    }

    // Why a structured-mode value is not a CloudEvent that a JSON-format reader accepts, or null: one JSON object, nothing
    // after it, with the required attributes, each attribute of its type, and data as its datacontenttype allows. A batch
    // embeds the value as it is, so one event a reader refuses would make it refuse the whole batch.
    internal static string? StructuredProblem(byte[]? value)
    {
        const string NotAnObject = "value is not one JSON object";
        if (value is null || !Utf8.IsValid(value))
            return NotAnObject;
        var required = 0;
        var attributes = 0;
        var hasData = false;
        var hasBase64 = false;
        var dataToken = JsonTokenType.None;
        string? dataContentType = null;
        try
        {
            var reader = new Utf8JsonReader(value);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return NotAnObject;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                if (++attributes > CloudEventMapping.MaxAttributes)
                    return $"value has more than {CloudEventMapping.MaxAttributes} members";
                if (name == "data")
                {
                    hasData = true;
                    dataToken = reader.TokenType;
                    reader.Skip();
                    continue;
                }

                if (name == "data_base64")
                {
                    if (reader.TokenType != JsonTokenType.String || !System.Buffers.Text.Base64.IsValid(reader.GetString()))
                        return "data_base64 is not a base64 string";
                    hasBase64 = true;
                    continue;
                }

                if (!IsAttributeName(name))
                    return $"member {RequestBuilder.PercentEncodeToString(Encoding.UTF8.GetBytes(name))} is not a CloudEvents attribute name (a-z, 0-9)";
                if (reader.TokenType is JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False
                    && name is not ("specversion" or "id" or "source" or "type" or "time" or "subject" or "datacontenttype" or "dataschema"))
                {
                    // An extension may be an integer or a boolean in the JSON format.
                    if (reader.TokenType == JsonTokenType.Number && !reader.TryGetInt32(out _))
                        return $"{name} is a number that is not a 32-bit integer";
                    continue;
                }

                if (reader.TokenType != JsonTokenType.String)
                    return $"{name} is not a string";
                var text = reader.GetString()!;
                if (text.Length == 0 || text.Any(char.IsControl))
                    return $"{name} is empty or holds control characters";
                if (AttributeProblem(name, name, text, ref required) is { } problem)
                    return problem;
                if (name == "datacontenttype")
                {
                    if (!IsMediaType(Encoding.UTF8.GetBytes(text)))
                        return "datacontenttype is not a media type of printable ASCII";
                    dataContentType = text;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return NotAnObject;
        }
        catch (JsonException)
        {
            return NotAnObject;
        }

        if (MissingAttribute(required, "") is { } missing)
            return missing;
        if (hasData && hasBase64)
            return "data and data_base64 are both given";
        // Without datacontenttype the data is JSON (JSON format 3.1); with another type it must be a string.
        if (hasData && dataToken is not (JsonTokenType.String or JsonTokenType.Null) && dataContentType is not null && !IsJsonMediaType(dataContentType))
            return "data is not a string although datacontenttype is not JSON";
        return null;
    }

    // The checks of one attribute's value, the same in both modes (label: the header or member that carried it). Sets
    // the attribute's bit in required: specversion 1, id 2, source 4, type 8.
    internal static string? AttributeProblem(ReadOnlySpan<char> attribute, string label, string text, ref int required)
    {
        switch (attribute)
        {
            case "specversion":
                if (text != CloudEventMapping.SpecVersion)
                    return $"{label} is not {CloudEventMapping.SpecVersion}";
                required |= 1;
                break;
            case "id":
                required |= 2;
                break;
            case "source":
                if (!Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _))
                    return $"{label} is not a URI reference";
                required |= 4;
                break;
            case "type":
                required |= 8;
                break;
            case "time":
                if (!CloudEventMapping.IsRfc3339(Encoding.UTF8.GetBytes(text)))
                    return $"{label} is not an RFC 3339 timestamp";
                break;
            case "dataschema":
                if (!Uri.TryCreate(text, UriKind.Absolute, out _))
                    return $"{label} is not an absolute URI";
                break;
        }

        return null;
    }

    // The first required attribute missing from required (see AttributeProblem), named with prefix, or null.
    internal static string? MissingAttribute(int required, string prefix) =>
        (required & 1) == 0 ? $"{prefix}specversion is missing"
        : (required & 2) == 0 ? $"{prefix}id is missing"
        : (required & 4) == 0 ? $"{prefix}source is missing"
        : (required & 8) == 0 ? $"{prefix}type is missing"
        : null;

    // One complete JSON value and nothing after it.
    internal static bool IsJson(byte[] value)
    {
        if (value.Length == 0 || !Utf8.IsValid(value))
            return false;
        try
        {
            var reader = new Utf8JsonReader(value);
            if (!reader.Read())
                return false;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // CloudEvents attribute names: lower-case ASCII letters and digits (spec 1.0.2, "Attribute Naming Convention").
    internal static bool IsAttributeName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty)
            return false;
        foreach (var c in name)
        {
            if (c is not (>= 'a' and <= 'z' or >= '0' and <= '9'))
                return false;
        }

        return true;
    }

    // type "/" subtype, optionally followed by ";" parameters, all printable ASCII: safe as a Content-Type header.
    internal static bool IsMediaType(ReadOnlySpan<byte> value)
    {
        var i = Token(value, 0);
        if (i == 0 || i >= value.Length || value[i] != '/')
            return false;
        var end = Token(value, i + 1);
        if (end == i + 1)
            return false;
        if (end == value.Length)
            return true;
        var rest = value[end..];
        var semicolon = rest.TrimStart(" \t"u8);
        if (semicolon.IsEmpty || semicolon[0] != ';')
            return false;
        foreach (var b in rest)
        {
            if (b is < 0x20 or > 0x7E && b != '\t')
                return false;
        }

        return true;
    }

    internal static int Token(ReadOnlySpan<byte> value, int start)
    {
        var i = start;
        while (i < value.Length && (char.IsAsciiLetterOrDigit((char)value[i]) || value[i] is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&'
                   or (byte)'\'' or (byte)'*' or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~'))
            i++;
        return i;
    }

    // application/cloudevents or application/cloudevents+{format} (case-insensitive); structured when the format is json.
    internal static bool IsCloudEventsMediaType(ReadOnlySpan<byte> value, out bool json)
    {
        var mediaType = MediaType(value);
        json = Ascii.EqualsIgnoreCase(mediaType, CloudEventMapping.StructuredMediaType);
        return json || (mediaType.Length >= "application/cloudevents".Length && Ascii.EqualsIgnoreCase(mediaType[.."application/cloudevents".Length], "application/cloudevents"));
    }

    // application/json and any */*+json: the media types whose data the JSON format (3.1) holds as JSON.
    internal static bool IsJsonMediaType(string contentType)
    {
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType.AsSpan() : contentType.AsSpan(0, semicolon)).TrimEnd(" \t");
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    internal static ReadOnlySpan<byte> MediaType(ReadOnlySpan<byte> value)
    {
        var semicolon = value.IndexOf((byte)';');
        return (semicolon < 0 ? value : value[..semicolon]).TrimEnd(" \t"u8);
    }
}
