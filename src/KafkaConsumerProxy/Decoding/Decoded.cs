namespace KafkaConsumerProxy.Decoding;

/// <summary>Why a key or value could not be decoded.</summary>
internal enum DecodeFailure
{
    /// <summary>Decoded (or null, which stays null).</summary>
    None,

    /// <summary>
    /// The registry could not be asked (unreachable, timed out, a 5xx or a refusal such as 401): nothing is wrong with the
    /// record, so its message waits and is tried again, never skipped for this.
    /// </summary>
    RegistryUnavailable,

    /// <summary>Not in the Confluent wire format (magic byte 0, a 4-byte schema id, the payload).</summary>
    NotWireFormat,

    /// <summary>The registry does not know the schema id (404).</summary>
    UnknownSchema,

    /// <summary>The schema is of another type than the route's format, cannot be read, or the payload does not match it.</summary>
    Invalid,
}

/// <summary>
/// A decoded key or value: its JSON text (UTF-8) and the schema id of its header; null <see cref="Json"/> with
/// <see cref="DecodeFailure.None"/> for a null key or value (a tombstone stays a tombstone).
/// </summary>
internal readonly record struct Decoded(byte[]? Json, int SchemaId, DecodeFailure Failure = DecodeFailure.None, string? Reason = null)
{
    public static Decoded Null => default;

    public bool Failed => Failure != DecodeFailure.None;

    public static Decoded Fail(DecodeFailure failure, string reason, int schemaId = -1) => new(null, schemaId, failure, reason);
}

/// <summary>Thrown inside the decoders to end a decode with a failure; never leaves <see cref="RecordDecoder"/>.</summary>
internal sealed class DecodeException(DecodeFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public DecodeFailure Failure { get; } = failure;
}
