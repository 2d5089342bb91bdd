using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>Decides whether an HTTP response means the message was accepted (<c>response_check</c>).</summary>
internal static class ResponseClassifier
{
    /// <summary>
    /// Bodies longer than this (65,536 bytes, 64 KiB) are not parsed and count as rejected; a body of exactly this
    /// size is read. An <c>errno</c> answer is a few bytes.
    /// </summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>At most this many unknown offsets are named in the reason of a rejected <c>retry</c> list.</summary>
    private const int UnknownOffsetsShown = 10;

    /// <summary>Classifies a status and body; <paramref name="body"/> is ignored for <see cref="ResponseCheck.Status"/>.</summary>
    public static (DeliveryOutcome Outcome, string? Reason) Classify(ResponseCheck check, int status, ReadOnlySpan<byte> body)
    {
        if (status is < 200 or > 299)
        {
            return (DeliveryOutcome.BadStatus, $"HTTP {status}");
        }

        if (check == ResponseCheck.Status)
        {
            return (DeliveryOutcome.Success, null);
        }

        return CheckErrno(body);
    }

    /// <summary>
    /// Classifies the answer to a batch. Success acknowledges every message of the batch, except that with
    /// <see cref="ResponseCheck.Errno"/> a top-level <c>"retry": [offset, ...]</c> (integers, offsets of messages in
    /// <paramref name="batch"/>) names messages to retry, and a top-level <c>"actions": {"offset": "action", ...}</c>
    /// names what to do with single messages (<c>retry</c>, <c>skip</c>, <c>dead-letter</c>, <c>commit</c>); both go
    /// into <paramref name="answer"/>. Anything else (bad status, errno set, a body that is not a JSON object, a
    /// <c>retry</c> that is not an array of integers, <c>actions</c> that are not such an object, an offset not in the
    /// batch, one offset named for two different actions) fails the whole batch: a list the endpoint got wrong must not
    /// be read as "the rest succeeded".
    /// </summary>
    public static (DeliveryOutcome Outcome, string? Reason) ClassifyBatch(ResponseCheck check, int status, ReadOnlySpan<byte> body, IReadOnlyList<KafkaRecord> batch, BatchAnswer answer)
    {
        if (status is < 200 or > 299)
        {
            return (DeliveryOutcome.BadStatus, $"HTTP {status}");
        }

        if (check == ResponseCheck.Status)
        {
            return (DeliveryOutcome.Success, null);
        }

        var result = CheckErrno(body, answer);
        if (result.Outcome == DeliveryOutcome.Success && !answer.IsEmpty)
        {
            if (UnknownOffsets(batch, answer.RetryList) is { } unknown)
            {
                result = (DeliveryOutcome.RejectedBody,
                    $"\"retry\" names offset(s) not in the batch ({unknown}; the batch holds {RequestBuilder.DescribeOffsets(batch)}): {Preview(body)}");
            }
            else if (UnknownOffsets(batch, [.. answer.Actions.Keys]) is { } stranger)
            {
                result = (DeliveryOutcome.RejectedBody,
                    $"\"actions\" names offset(s) not in the batch ({stranger}; the batch holds {RequestBuilder.DescribeOffsets(batch)}): {Preview(body)}");
            }
            else if (answer.Conflict() is { } both)
            {
                result = (DeliveryOutcome.RejectedBody,
                    $"offset {both} is in \"retry\" and named {EndpointActions.Name(answer.Actions[both])} in \"actions\": {Preview(body)}");
            }
        }

        if (result.Outcome != DeliveryOutcome.Success)
        {
            answer.Clear();
        }

        return result;
    }

    // The offsets of retry that no message of the batch has, described; null when every one is in the batch.
    private static string? UnknownOffsets(IReadOnlyList<KafkaRecord> batch, IReadOnlyList<long> retry)
    {
        if (retry.Count == 0)
        {
            return null;
        }

        var offsets = new long[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            offsets[i] = batch[i].Offset;
        }

        Array.Sort(offsets);
        var unknown = retry.Where(o => Array.BinarySearch(offsets, o) < 0).Distinct().ToList();
        if (unknown.Count == 0)
        {
            return null;
        }

        var shown = string.Join(", ", unknown.Take(UnknownOffsetsShown).Select(o => o.ToString(CultureInfo.InvariantCulture)));
        return unknown.Count > UnknownOffsetsShown ? $"{shown}, … {unknown.Count} in all" : shown;
    }

    /// <summary>
    /// True when <paramref name="body"/> is empty or not a JSON object at all (not UTF-8, not JSON, or another JSON
    /// value): an endpoint that answers so was most likely not written for <c>response_check: errno</c>.
    /// </summary>
    public static bool IsNotJsonObject(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty || !System.Text.Unicode.Utf8.IsValid(body))
        {
            return true;
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            return !reader.Read() || reader.TokenType != JsonTokenType.StartObject;
        }
        catch (JsonException)
        {
            return true;
        }
    }

    /// <summary>
    /// The previous service's rule: a JSON object whose <c>errno</c> is absent or falsy in PHP's sense
    /// (0, false, "", "0", null). Anything else, including a body that is not JSON, is a rejection.
    /// </summary>
    public static (DeliveryOutcome Outcome, string? Reason) CheckErrno(ReadOnlySpan<byte> body) => CheckErrno(body, answer: null);

    // With answer: null (single messages) "retry" and "actions" are ordinary properties and ignored.
    private static (DeliveryOutcome Outcome, string? Reason) CheckErrno(ReadOnlySpan<byte> body, BatchAnswer? answer)
    {
        // JSON is UTF-8 (RFC 8259), and PHP's json_decode refuses anything else too; the reader would not check
        // every string, and decoding a bad one would throw.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return (DeliveryOutcome.RejectedBody, $"body is not valid UTF-8 JSON: {Preview(body)}");
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (DeliveryOutcome.RejectedBody, $"body is not a JSON object: {Preview(body)}");
            }

            string? errno = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                // Only top-level properties count; nested values are skipped whole.
                var isErrno = reader.ValueTextEquals("errno"u8);
                var isRetry = answer is not null && reader.ValueTextEquals("retry"u8);
                var isActions = answer is not null && reader.ValueTextEquals("actions"u8);
                reader.Read();
                if (isErrno && !IsFalsy(ref reader))
                {
                    errno = FormatValue(ref reader);
                }
                else if (isRetry && !ReadOffsets(ref reader, answer!))
                {
                    return (DeliveryOutcome.RejectedBody, $"\"retry\" must be an array of offsets (integers): {Preview(body)}");
                }
                else if (isActions && ReadActions(ref reader, answer!) is { } problem)
                {
                    return (DeliveryOutcome.RejectedBody, $"\"actions\" {problem}: {Preview(body)}");
                }

                reader.Skip();
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return (DeliveryOutcome.RejectedBody, $"body is not a complete JSON object: {Preview(body)}");
            }

            return errno is null ? (DeliveryOutcome.Success, null) : (DeliveryOutcome.RejectedBody, $"errno {errno}: {Preview(body)}");
        }
        catch (JsonException)
        {
            return (DeliveryOutcome.RejectedBody, $"body is not JSON: {Preview(body)}");
        }
    }

    /// <summary>Reads <c>[5, 9]</c> (or <c>null</c>: nothing to retry) into <paramref name="answer"/>; false for anything else.</summary>
    private static bool ReadOffsets(ref Utf8JsonReader reader, BatchAnswer answer)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var offset))
            {
                return false;
            }

            answer.AddRetry(offset);
        }

        return reader.TokenType == JsonTokenType.EndArray;
    }

    /// <summary>
    /// Reads <c>{"5": "skip", "9": "dead-letter"}</c> (or <c>null</c>: nothing) into <paramref name="answer"/>: each name
    /// an offset (a decimal integer), each value <c>retry</c>, <c>skip</c>, <c>dead-letter</c> or <c>commit</c> (any
    /// case, as the header). Null when read; else what is wrong, for the reason.
    /// </summary>
    private static string? ReadActions(ref Utf8JsonReader reader, BatchAnswer answer)
    {
        const string Shape = "must be an object of offsets (decimal integers) to retry, skip, dead-letter or commit";
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return Shape;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            if (!long.TryParse(name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var offset) || !reader.Read() || reader.TokenType != JsonTokenType.String)
            {
                return Shape;
            }

            var action = EndpointActions.Parse(reader.GetString().AsSpan().Trim(" \t"));
            if (action is EndpointAction.None or EndpointAction.Pause)
            {
                return Shape;
            }

            if (!answer.AddAction(offset, action))
            {
                return $"names offset {offset} for two different actions";
            }
        }

        return reader.TokenType == JsonTokenType.EndObject ? null : Shape;
    }

    private static bool IsFalsy(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Null or JsonTokenType.False => true,
        JsonTokenType.Number => reader.TryGetDouble(out var d) && d == 0,
        JsonTokenType.String => reader.ValueTextEquals(""u8) || reader.ValueTextEquals("0"u8),
        _ => false,
    };

    private static string FormatValue(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => "\"" + LogText.Escape(reader.GetString()) + "\"",
        JsonTokenType.Number or JsonTokenType.True => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
        _ => reader.TokenType.ToString(),
    };

    // Endpoint text goes into log lines and skip records: escaped to one safe line and cut (see LogText).
    private static string Preview(ReadOnlySpan<byte> body) => body.IsEmpty ? "(empty body)" : LogText.Escape(body);
}
