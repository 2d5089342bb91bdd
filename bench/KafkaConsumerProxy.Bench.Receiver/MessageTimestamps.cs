using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace KafkaConsumerProxy.Bench.Receiver;

/// <summary>
/// Finds how many messages a request carries and each one's produce timestamp (Unix ms): a JSON array is a batch
/// of envelopes, a JSON object is one envelope, anything else (form, raw) is one message whose timestamp is the
/// <c>X-Kafka-Timestamp</c> header.
/// </summary>
internal static class MessageTimestamps
{
    private static readonly string[] TimestampProperties = ["timestamp", "timestamp_ms", "timestampMs"];

    /// <summary>Appends one timestamp (NaN when unknown) per message of a JSON body to <paramref name="into"/>.</summary>
    public static void FromJson(ReadOnlySequence<byte> body, double headerTimestamp, List<double> into)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read())
            {
                into.Add(headerTimestamp);
                return;
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    into.Add(reader.TokenType == JsonTokenType.StartObject ? ReadEnvelope(ref reader, headerTimestamp) : Skip(ref reader, headerTimestamp));
                }
            }
            else
            {
                into.Add(reader.TokenType == JsonTokenType.StartObject ? ReadEnvelope(ref reader, headerTimestamp) : headerTimestamp);
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: one message, as for any other body.
            if (into.Count == 0)
            {
                into.Add(headerTimestamp);
            }
        }
    }

    /// <summary>The value of an <c>X-Kafka-Timestamp</c> header, or NaN.</summary>
    public static double FromHeader(string? value) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ? ms : double.NaN;

    private static double Skip(ref Utf8JsonReader reader, double fallback)
    {
        reader.Skip();
        return fallback;
    }

    // Reads one envelope object up to its EndObject; a header timestamp is the fallback for a batch without them.
    private static double ReadEnvelope(ref Utf8JsonReader reader, double fallback)
    {
        var depth = reader.CurrentDepth;
        var found = double.NaN;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            var isTimestamp = IsTimestampProperty(ref reader);
            reader.Read();
            if (isTimestamp && double.IsNaN(found))
            {
                found = ReadTimestamp(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return double.IsNaN(found) ? fallback : found;
    }

    private static bool IsTimestampProperty(ref Utf8JsonReader reader)
    {
        foreach (var name in TimestampProperties)
        {
            if (reader.ValueTextEquals(name))
            {
                return true;
            }
        }

        return false;
    }

    private static double ReadTimestamp(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return reader.GetDouble();
            case JsonTokenType.String:
                var text = reader.GetString();
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
                {
                    return ms;
                }

                return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                    ? (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond
                    : double.NaN;
            default:
                reader.Skip();
                return double.NaN;
        }
    }
}
