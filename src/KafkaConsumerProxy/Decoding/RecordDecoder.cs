using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Avro.Generic;
using Avro.IO;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// Turns a key or value in the Confluent wire format into JSON text, with the schema its header names: Avro through
/// Apache.Avro's generic reader and <see cref="AvroJson"/>, Protobuf through <see cref="ProtobufDecoder"/>, JSON Schema
/// by checking that the payload after the header is JSON (it is not validated against the schema: the producer's
/// serializer did that, and the endpoint receives it as written). A null key or value stays null. Never throws for
/// a record: a failure comes back as a <see cref="Decoded"/> naming why. Parsed schemas are kept per schema id, at
/// most <see cref="SchemaRegistrySettings.MaxCachedSchemas"/> (emptied when full, as the client does).
/// </summary>
internal sealed class RecordDecoder(SchemaSource source)
{
    private readonly ConcurrentDictionary<int, Avro.Schema> _avro = new();
    private readonly ProtobufDecoder _protobuf = new(source);

    /// <summary>The registry the decoder asks.</summary>
    public SchemaSource Source => source;

    /// <summary>Decodes <paramref name="bytes"/> written in <paramref name="format"/> (not <see cref="RecordFormat.Bytes"/>).</summary>
    public async ValueTask<Decoded> DecodeAsync(byte[]? bytes, RecordFormat format)
    {
        if (bytes is null)
            return Decoded.Null;
        if (!WireFormat.TryRead(bytes, out var id, out var problem))
            return Decoded.Fail(DecodeFailure.NotWireFormat, problem);
        try
        {
            var json = format switch
            {
                RecordFormat.Avro => await AvroAsync(id, bytes).ConfigureAwait(false),
                RecordFormat.Protobuf => await _protobuf.DecodeAsync(id, bytes).ConfigureAwait(false),
                _ => await JsonSchemaAsync(id, bytes).ConfigureAwait(false),
            };
            return new Decoded(json, id);
        }
        catch (DecodeException ex)
        {
            return Decoded.Fail(ex.Failure, ex.Message, id);
        }
    }

    private async Task<byte[]> AvroAsync(int id, byte[] bytes)
    {
        if (!_avro.TryGetValue(id, out var schema))
        {
            var registered = await source.GetAsync(id).ConfigureAwait(false);
            CheckType(id, registered.SchemaType, Confluent.SchemaRegistry.SchemaType.Avro, RecordFormat.Avro);
            var names = new Avro.SchemaNames();
            await AddReferencesAsync(id, registered, names, 0).ConfigureAwait(false);
            schema = Parse(id, registered.SchemaString, names);
            Keep(_avro, id, schema);
        }

        try
        {
            using var stream = new MemoryStream(bytes, WireFormat.HeaderBytes, bytes.Length - WireFormat.HeaderBytes, writable: false);
            var datum = new GenericDatumReader<object>(schema, schema).Read(null!, new BinaryDecoder(stream));
            if (stream.Position != stream.Length)
                throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture, $"does not match Avro schema id {id}: {stream.Length - stream.Position} byte(s) left after the datum"));
            return AvroJson.Write(schema, datum);
        }
        catch (Exception ex) when (ex is Avro.AvroException or EndOfStreamException or InvalidCastException or ArgumentException or OverflowException or FormatException or InvalidOperationException)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"does not match Avro schema id {id}: {ex.Message}", ex);
        }
    }

    // Named types of other subjects, parsed first so that the schema can name them; depth bounds a reference cycle.
    private async Task AddReferencesAsync(int id, Confluent.SchemaRegistry.Schema schema, Avro.SchemaNames names, int depth)
    {
        if (depth > 32)
            throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture, $"Avro schema id {id} has references more than 32 deep"));
        foreach (var reference in schema.References ?? [])
        {
            var referenced = await source.GetReferencedAsync(id, reference).ConfigureAwait(false);
            await AddReferencesAsync(id, referenced, names, depth + 1).ConfigureAwait(false);
            Parse(id, referenced.SchemaString, names);
        }
    }

    private static Avro.Schema Parse(int id, string text, Avro.SchemaNames names)
    {
        try
        {
            return Avro.Schema.Parse(text, names, null);
        }
        catch (Exception ex) when (ex is Avro.AvroException or Newtonsoft.Json.JsonException or ArgumentException)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"Avro schema id {id} from the registry cannot be read: {ex.Message}", ex);
        }
    }

    private async Task<byte[]> JsonSchemaAsync(int id, byte[] bytes)
    {
        // Asked so that an unknown id fails as it does for the other formats, and a schema of another type is told.
        var registered = await source.GetAsync(id).ConfigureAwait(false);
        CheckType(id, registered.SchemaType, Confluent.SchemaRegistry.SchemaType.Json, RecordFormat.JsonSchema);
        var payload = bytes.AsMemory(WireFormat.HeaderBytes);
        try
        {
            using var document = JsonDocument.Parse(payload);
        }
        catch (JsonException ex)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"is not JSON after the wire-format header (JSON Schema id {id}): {ex.Message}", ex);
        }

        return payload.ToArray();
    }

    internal static void CheckType(int id, Confluent.SchemaRegistry.SchemaType actual, Confluent.SchemaRegistry.SchemaType expected, RecordFormat format)
    {
        if (actual != expected)
            throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture,
                $"names schema id {id}, a {actual.ToString().ToUpperInvariant()} schema, but the route's format is {DecodingSettings.Name(format)}"));
    }

    internal static void Keep<T>(ConcurrentDictionary<int, T> cache, int id, T value)
    {
        if (cache.Count >= SchemaRegistrySettings.MaxCachedSchemas)
            cache.Clear();
        cache[id] = value;
    }
}
