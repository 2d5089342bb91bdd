using System.Globalization;
using System.Runtime.CompilerServices;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Decoding;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// A route's decoding of typed records before they are sent (<c>value_format</c>, <c>key_format</c>): each record is
/// sent as a copy whose key and value hold JSON text (<see cref="KafkaRecord.Schemas"/> says which), while the record
/// as consumed is what a skip writes to the dead-letter topic and the skip record. A record decoded once is not decoded
/// again for its retries (the copy is kept beside it while it lives). A record that cannot be decoded is an attempt's
/// failure (<see cref="DeliveryOutcome.DecodeError"/>, or <see cref="DeliveryOutcome.RegistryUnavailable"/> while the
/// registry cannot be asked), so the route's retry and skip rules apply to it; it is never sent.
/// </summary>
internal sealed class RecordDecoding
{
    private readonly DecodingSettings _settings;
    private readonly RecordDecoder _decoder;
    private readonly string _registry;
    private readonly ConditionalWeakTable<KafkaRecord, KafkaRecord> _decoded = [];

    private RecordDecoding(DecodingSettings settings, SchemaRegistrySettings registry)
    {
        _settings = settings;
        _decoder = new RecordDecoder(SchemaSource.For(registry));
        _registry = $"schema registry {registry.Url}";
    }

    /// <summary>The route's decoding; null when it decodes nothing.</summary>
    public static RecordDecoding? For(RouteDefinition route) =>
        route.Decoding is { Enabled: true, Registry: { } registry } settings ? new RecordDecoding(settings, registry) : null;

    /// <summary>The copy of <paramref name="record"/> to send, or the failed attempt that stands for it.</summary>
    public async ValueTask<(KafkaRecord? Sendable, DeliveryResult? Failure)> DecodeAsync(KafkaRecord record)
    {
        if (_decoded.TryGetValue(record, out var done))
            return (done, null);

        var started = TimeProvider.System.GetTimestamp();
        var value = _settings.ValueFormat == RecordFormat.Bytes ? Decoded.Null : await _decoder.DecodeAsync(record.Value, _settings.ValueFormat).ConfigureAwait(false);
        var key = _settings.KeyFormat == RecordFormat.Bytes || value.Failed ? Decoded.Null : await _decoder.DecodeAsync(record.Key, _settings.KeyFormat).ConfigureAwait(false);
        if (value.Failed || key.Failed)
        {
            var (part, failed) = value.Failed ? ("value", value) : ("key", key);
            var outcome = failed.Failure == DecodeFailure.RegistryUnavailable ? DeliveryOutcome.RegistryUnavailable : DeliveryOutcome.DecodeError;
            var reason = string.Create(CultureInfo.InvariantCulture, $"the {part} of {record.Topic}/{record.Partition}@{record.Offset} {failed.Reason}");
            if (failed.Failure is DecodeFailure.UnknownSchema or DecodeFailure.RegistryUnavailable)
                reason = string.Create(CultureInfo.InvariantCulture, $"the {part} of {record.Topic}/{record.Partition}@{record.Offset}: {failed.Reason}");
            return (null, new DeliveryResult(outcome, _registry, TimeProvider.System.GetElapsedTime(started), Reason: reason));
        }

        var valueDecoded = _settings.ValueFormat != RecordFormat.Bytes && record.Value is not null;
        var keyDecoded = _settings.KeyFormat != RecordFormat.Bytes && record.Key is not null;
        done = record with
        {
            Value = valueDecoded ? value.Json : record.Value,
            Key = keyDecoded ? key.Json : record.Key,
            Schemas = new RecordSchemas(keyDecoded ? key.SchemaId : null, valueDecoded ? value.SchemaId : null),
        };
        _decoded.AddOrUpdate(record, done);
        return (done, null);
    }

    /// <summary>The copies of a batch to send, or the first failed attempt that stands for the whole batch.</summary>
    public async ValueTask<(List<KafkaRecord>? Sendable, DeliveryResult? Failure)> DecodeAllAsync(IReadOnlyList<KafkaRecord> batch)
    {
        var sendable = new List<KafkaRecord>(batch.Count);
        foreach (var record in batch)
        {
            var (copy, failure) = await DecodeAsync(record).ConfigureAwait(false);
            if (copy is null)
                return (null, failure);
            sendable.Add(copy);
        }

        return (sendable, null);
    }

    /// <summary>
    /// With <c>can_skip: true</c>, skips (kind <c>decode</c>) the records of a batch that cannot be decoded, each on its
    /// own, so that one bad record does not take the others with it; records waiting for the registry stay. False when
    /// the batch was abandoned meanwhile.
    /// </summary>
    public async Task<bool> SkipUndecodableAsync(List<KafkaRecord> batch, MessageSkipper skips, TimeProvider time, Func<KafkaRecord, MessageDisposition, ValueTask> finished, CancellationToken abandon)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var record = batch[i];
            var (copy, failure) = await DecodeAsync(record).ConfigureAwait(false);
            if (copy is not null || failure!.Outcome != DeliveryOutcome.DecodeError)
                continue;

            var now = time.GetUtcNow();
            var disposition = await skips.SkipAsync(record, new SkipDetails(SkipKind.Decode, 1, now, failure.Describe(), null, null, now), abandon).ConfigureAwait(false);
            if (disposition == MessageDisposition.Abandoned)
                return false;
            await finished(record, disposition).ConfigureAwait(false);
            batch.RemoveAt(i--);
        }

        return true;
    }
}
