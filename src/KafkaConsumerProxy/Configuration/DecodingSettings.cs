namespace KafkaConsumerProxy.Configuration;

/// <summary>How a record's key or value is written by its producer (<c>value_format</c>, <c>key_format</c>).</summary>
internal enum RecordFormat
{
    /// <summary><c>bytes</c> (default): sent as it is, never decoded.</summary>
    Bytes,

    /// <summary><c>avro</c>: Confluent wire format with an Avro schema of the registry; sent as JSON.</summary>
    Avro,

    /// <summary><c>protobuf</c>: Confluent wire format with a Protobuf schema of the registry; sent as proto3 JSON.</summary>
    Protobuf,

    /// <summary><c>json_schema</c>: Confluent wire format with a JSON Schema of the registry; the JSON after the header is sent.</summary>
    JsonSchema,
}

/// <summary>
/// A route's decoding of typed records: the formats of its values and keys and the Schema Registry of its cluster
/// (<c>clusters.&lt;name&gt;.schema_registry</c>). Only a route that decodes something needs a registry.
/// </summary>
internal sealed record DecodingSettings
{
    /// <summary>The words of <see cref="RecordFormat"/> as a file writes them.</summary>
    public static readonly string[] FormatNames = ["bytes", "avro", "protobuf", "json_schema"];

    /// <summary><c>value_format</c>: default <see cref="RecordFormat.Bytes"/> (sent as it is).</summary>
    public RecordFormat ValueFormat { get; init; } = RecordFormat.Bytes;

    public static readonly RouteKey ValueFormatKey = new("value_format", RouteKeyKind.Choice) { Choices = FormatNames, Default = "bytes", Description = "How the record's value is read: bytes as they are, or decoded from Avro, Protobuf or JSON Schema through the cluster's schema_registry." };

    /// <summary><c>key_format</c>: default <see cref="RecordFormat.Bytes"/> (sent as it is).</summary>
    public RecordFormat KeyFormat { get; init; } = RecordFormat.Bytes;

    public static readonly RouteKey KeyFormatKey = new("key_format", RouteKeyKind.Choice) { Choices = FormatNames, Default = "bytes", Description = "How the record's key is read: bytes as they are, or decoded from Avro, Protobuf or JSON Schema through the cluster's schema_registry." };

    /// <summary>The registry of the route's cluster; null when the cluster has none (then both formats are bytes).</summary>
    public SchemaRegistrySettings? Registry { get; init; }

    /// <summary>True when the value or the key is decoded.</summary>
    public bool Enabled => ValueFormat != RecordFormat.Bytes || KeyFormat != RecordFormat.Bytes;

    /// <summary>The format a file wrote, as <see cref="RecordFormat"/>; null for null.</summary>
    public static RecordFormat? Parse(string? written) =>
        written is null ? null : (RecordFormat)Array.FindIndex(FormatNames, n => n.Equals(written, StringComparison.OrdinalIgnoreCase));

    /// <summary>The word of <paramref name="format"/> as a file writes it.</summary>
    public static string Name(RecordFormat format) => FormatNames[(int)format];
}

/// <summary>
/// <c>clusters.&lt;name&gt;.schema_registry</c>: where the cluster's schemas are, and how kcp authenticates to it.
/// Secrets come through <c>${env:NAME}</c> / <c>${file:PATH}</c> like every other value.
/// </summary>
internal sealed record SchemaRegistrySettings
{
    /// <summary><c>url</c>: one or more http:// or https:// base URLs separated by commas (tried in turn).</summary>
    public required string Url { get; init; }

    /// <summary><c>basic_auth</c>: <c>user:password</c>; null = none.</summary>
    public string? BasicAuth { get; init; }

    /// <summary><c>bearer</c>: a static bearer token; null = none. Not together with <see cref="BasicAuth"/>.</summary>
    public string? Bearer { get; init; }

    /// <summary>
    /// <c>tls_ca_file</c>, <c>tls_server_name</c>, <c>tls_client_cert_file</c>, <c>tls_client_key_file</c> and
    /// <c>tls_insecure_skip_verify</c>, meant as a route's (<see cref="TlsSettings"/>; files resolved against kcp.yaml's
    /// directory); they apply to the https:// urls. Default: the system trust store, the url's host, no client
    /// certificate. <see cref="TlsSettings.Enabled"/> is true when a url is https://.
    /// </summary>
    public TlsSettings Tls { get; init; } = new();

    /// <summary>
    /// The schemas kept per registry (as the Confluent client's <c>schema.registry.max.cached.schemas</c> default):
    /// 1,000; the cache is emptied when full. Parsed schemas and descriptors are kept as many per route.
    /// </summary>
    public const int MaxCachedSchemas = 1000;

    /// <summary>One registry request may take this long (10 s) before the message waits and tries again.</summary>
    public const int RequestTimeoutMs = 10_000;
}
