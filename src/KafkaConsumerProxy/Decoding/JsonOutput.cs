using System.Text.Encodings.Web;
using System.Text.Json;

namespace KafkaConsumerProxy.Decoding;

/// <summary>How decoded keys and values are written: compact, non-ASCII text as it is, as the JSON envelope writes text.</summary>
internal static class JsonOutput
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false, SkipValidation = false };

    /// <summary>A number, or <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c> as strings: JSON has no such numbers.</summary>
    public static void WriteNumber(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value))
            json.WriteNumberValue(value);
        else
            json.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }

    /// <inheritdoc cref="WriteNumber(Utf8JsonWriter, double)"/>
    public static void WriteNumber(Utf8JsonWriter json, float value)
    {
        if (float.IsFinite(value))
            json.WriteNumberValue(value);
        else
            json.WriteStringValue(float.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
}
