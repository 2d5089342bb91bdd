using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text.Json;
using Avro;
using Avro.Generic;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// Writes a datum read by Apache.Avro's generic reader as natural JSON, walking the writer's schema: a record is an
/// object with its fields in schema order, an enum its symbol, an array an array, a map an object, a union the value
/// of its branch (not Avro's own JSON encoding, which wraps it as <c>{"type": value}</c>), bytes and fixed base64,
/// <c>NaN</c> and infinities as strings. Logical types as text: <c>date</c> <c>2024-01-31</c>, <c>timestamp-*</c>
/// RFC 3339 in UTC (<c>2024-01-31T12:00:00.123Z</c>), <c>local-timestamp-*</c> the same without <c>Z</c>,
/// <c>time-*</c> <c>12:00:00.123</c>, <c>decimal</c> the exact number as a string (<c>"12.34"</c>), <c>uuid</c> the
/// UUID's text.
/// </summary>
internal static class AvroJson
{
    /// <summary>The JSON text of <paramref name="datum"/> of <paramref name="schema"/>.</summary>
    public static byte[] Write(Schema schema, object? datum)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            Write(json, schema, datum);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter json, Schema schema, object? value)
    {
        switch (schema)
        {
            case UnionSchema union:
                Write(json, Branch(union, value), value);
                return;
            case LogicalSchema logical:
                WriteLogical(json, logical, value);
                return;
            case RecordSchema record:
                var fields = (GenericRecord)value!;
                json.WriteStartObject();
                foreach (var field in record.Fields)
                {
                    json.WritePropertyName(field.Name);
                    Write(json, field.Schema, fields.GetValue(field.Pos));
                }

                json.WriteEndObject();
                return;
            case EnumSchema:
                json.WriteStringValue(value is GenericEnum symbol ? symbol.Value : Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            case FixedSchema:
                json.WriteBase64StringValue(value is GenericFixed fixedValue ? fixedValue.Value : (byte[])value!);
                return;
            case ArraySchema array:
                json.WriteStartArray();
                foreach (var item in (IEnumerable)value!)
                    Write(json, array.ItemSchema, item);
                json.WriteEndArray();
                return;
            case MapSchema map:
                json.WriteStartObject();
                foreach (DictionaryEntry entry in (IDictionary)value!)
                {
                    json.WritePropertyName((string)entry.Key);
                    Write(json, map.ValueSchema, entry.Value);
                }

                json.WriteEndObject();
                return;
        }

        WritePrimitive(json, value);
    }

    private static void WritePrimitive(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case float f:
                JsonOutput.WriteNumber(json, f);
                break;
            case double d:
                JsonOutput.WriteNumber(json, d);
                break;
            case byte[] bytes:
                json.WriteBase64StringValue(bytes);
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static void WriteLogical(Utf8JsonWriter json, LogicalSchema logical, object? value)
    {
        var name = logical.LogicalTypeName;
        switch (value)
        {
            case DateTime date when name == "date":
                json.WriteStringValue(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                return;
            case DateTime stamp:
                var fraction = name.EndsWith("-millis", StringComparison.Ordinal) ? ".fff" : name.EndsWith("-micros", StringComparison.Ordinal) ? ".ffffff" : ".fffffff";
                var utc = name.StartsWith("local-", StringComparison.Ordinal) ? stamp : stamp.ToUniversalTime();
                json.WriteStringValue(utc.ToString("yyyy-MM-dd'T'HH:mm:ss" + fraction, CultureInfo.InvariantCulture) + (name.StartsWith("local-", StringComparison.Ordinal) ? "" : "Z"));
                return;
            case TimeSpan time:
                json.WriteStringValue(time.ToString(name.EndsWith("-micros", StringComparison.Ordinal) ? @"hh\:mm\:ss\.ffffff" : @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture));
                return;
            case AvroDecimal number:
                json.WriteStringValue(number.ToString(null, CultureInfo.InvariantCulture));
                return;
            case Guid uuid:
                json.WriteStringValue(uuid.ToString());
                return;
            default:
                Write(json, logical.BaseSchema, value);
                return;
        }
    }

    // The branch the reader took: the first whose type the value has (named types by their full name).
    private static Schema Branch(UnionSchema union, object? value)
    {
        foreach (var branch in union.Schemas)
        {
            if (Matches(branch, value))
                return branch;
        }

        return union.Schemas.FirstOrDefault(s => s.Tag != Schema.Type.Null) ?? union.Schemas[0];
    }

    private static bool Matches(Schema schema, object? value) => schema switch
    {
        RecordSchema record => value is GenericRecord r && r.Schema.Fullname == record.Fullname,
        EnumSchema symbols => value is GenericEnum e && e.Schema.Fullname == symbols.Fullname,
        FixedSchema fixedSchema => value is GenericFixed f && f.Schema.Fullname == fixedSchema.Fullname,
        ArraySchema => value is IEnumerable and not (string or byte[] or IDictionary),
        MapSchema => value is IDictionary,
        LogicalSchema logical => logical.LogicalTypeName switch
        {
            "decimal" => value is AvroDecimal,
            "uuid" => value is Guid,
            "date" or "timestamp-millis" or "timestamp-micros" or "timestamp-nanos" or "local-timestamp-millis" or "local-timestamp-micros" or "local-timestamp-nanos" => value is DateTime,
            "time-millis" or "time-micros" => value is TimeSpan,
            _ => Matches(logical.BaseSchema, value),
        },
        _ => schema.Tag switch
        {
            Schema.Type.Null => value is null,
            Schema.Type.Boolean => value is bool,
            Schema.Type.Int => value is int,
            Schema.Type.Long => value is long,
            Schema.Type.Float => value is float,
            Schema.Type.Double => value is double,
            Schema.Type.Bytes => value is byte[],
            Schema.Type.String => value is string,
            _ => false,
        },
    };
}
