using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Confluent.SchemaRegistry;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// One Schema Registry, through Confluent's <see cref="CachedSchemaRegistryClient"/>: schemas by id are cached by the
/// client, at most <see cref="SchemaRegistrySettings.MaxCachedSchemas"/> (it empties its cache when full). Every route
/// of the same registry settings shares one (<see cref="For"/>), so a schema is fetched once per process. Failures are
/// sorted into <see cref="DecodeException"/>s: a 404 is <see cref="DecodeFailure.UnknownSchema"/>; anything else that
/// keeps the registry from answering is <see cref="DecodeFailure.RegistryUnavailable"/>.
/// </summary>
internal sealed class SchemaSource
{
    private static readonly ConcurrentDictionary<SchemaRegistrySettings, SchemaSource> Sources = new();

    private readonly CachedSchemaRegistryClient _client;

    private SchemaSource(SchemaRegistrySettings settings)
    {
        Settings = settings;
        var config = new SchemaRegistryConfig
        {
            Url = settings.Url,
            MaxCachedSchemas = SchemaRegistrySettings.MaxCachedSchemas,
            RequestTimeoutMs = SchemaRegistrySettings.RequestTimeoutMs,
            // kcp tries again itself, at the route's retry_interval_ms, while the message waits: no hidden waits here.
            MaxRetries = 1,
            RetriesWaitMs = 10,
            RetriesMaxWaitMs = 10,
        };
        AuthenticationHeaderValue? authorization = settings.BasicAuth is { } basic
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)))
            : settings.Bearer is { } token ? new AuthenticationHeaderValue("Bearer", token) : null;
        var provider = authorization is null ? null : new StaticAuthorization(authorization);
        _client = new CachedSchemaRegistryClient(config, provider, null);
    }

    public SchemaRegistrySettings Settings { get; }

    /// <summary>The source of <paramref name="settings"/>, made at its first use and kept for the process.</summary>
    public static SchemaSource For(SchemaRegistrySettings settings) => Sources.GetOrAdd(settings, s => new SchemaSource(s));

    /// <summary>The schema of <paramref name="id"/>; <paramref name="format"/> <c>serialized</c> asks for a Protobuf schema as a base64 FileDescriptorProto.</summary>
    public Task<Schema> GetAsync(int id, string? format = null) => Guard(id, () => _client.GetSchemaAsync(id, format));

    /// <summary>A schema a reference names (subject and version), with its id.</summary>
    public Task<RegisteredSchema> GetReferencedAsync(int id, SchemaReference reference) =>
        Guard(id, () => _client.GetRegisteredSchemaAsync(reference.Subject, reference.Version, ignoreDeletedSchemas: false));

    private static async Task<T> Guard<T>(int id, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (SchemaRegistryException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            throw new DecodeException(DecodeFailure.UnknownSchema, string.Create(CultureInfo.InvariantCulture,
                $"schema id {id} is not in the schema registry (HTTP 404, error code {ex.ErrorCode}: {ex.Message})"), ex);
        }
        catch (SchemaRegistryException ex)
        {
            throw new DecodeException(DecodeFailure.RegistryUnavailable, string.Create(CultureInfo.InvariantCulture,
                $"the schema registry refused the request for schema id {id}: HTTP {(int)ex.Status}, error code {ex.ErrorCode}: {ex.Message}"), ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
        {
            var what = ex is TaskCanceledException ? $"no answer within {SchemaRegistrySettings.RequestTimeoutMs} ms" : ex.Message;
            throw new DecodeException(DecodeFailure.RegistryUnavailable, string.Create(CultureInfo.InvariantCulture,
                $"the schema registry could not be asked for schema id {id}: {what}"), ex);
        }
    }

    /// <summary>The route's <c>basic_auth</c> or <c>bearer</c>, as one fixed Authorization header.</summary>
    private sealed class StaticAuthorization(AuthenticationHeaderValue value) : IAuthenticationHeaderValueProvider
    {
        public AuthenticationHeaderValue GetAuthenticationHeader() => value;
    }
}
