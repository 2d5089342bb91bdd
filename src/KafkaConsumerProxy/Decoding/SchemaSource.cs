using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Confluent.SchemaRegistry;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tls;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// One Schema Registry, asked over kcp's own <see cref="HttpClient"/> for the two things decoding needs: a schema by id
/// (<c>GET /schemas/ids/{id}</c>, <c>?format=serialized</c> for Protobuf) and a schema a reference names
/// (<c>GET /subjects/{subject}/versions/{version}</c>), answered as Confluent's <see cref="Schema"/> and
/// <see cref="RegisteredSchema"/>. Not Confluent's <c>CachedSchemaRegistryClient</c>: it builds its own handler, checks
/// a CA file only against the direct issuer of a chain the system has built (so a private CA is refused on Linux) and
/// takes client certificates only as PKCS#12. Here an https:// url connects through a <see cref="TlsConnector"/>, the
/// code of a route's <c>scheme: https</c>: the same trust, server name, client certificate (PEM, with its chain), file
/// rotation and failure reasons; the request itself is the same for http:// and https://.
/// Answers are kept, at most <see cref="SchemaRegistrySettings.MaxCachedSchemas"/> (emptied when full). Every route of
/// the same registry settings shares one (<see cref="For"/>), so a schema is fetched once per process. Several urls are
/// tried in turn, starting with the last that answered. Failures are <see cref="DecodeException"/>s: a 404 is
/// <see cref="DecodeFailure.UnknownSchema"/>; anything else that keeps the registry from answering is
/// <see cref="DecodeFailure.RegistryUnavailable"/>.
/// </summary>
internal sealed class SchemaSource
{
    /// <summary>The longest answer read from the registry: 16 MiB (a schema is text; a longer answer is refused).</summary>
    public const int MaxAnswerBytes = 16 * 1024 * 1024;

    /// <summary>The key names the TLS failure reasons name.</summary>
    internal static readonly TlsKeyNames TlsKeys = new("schema_registry.tls_ca_file", "schema_registry.tls_client_cert_file",
        "set schema_registry.tls_server_name to a name it carries");

    private static readonly ConcurrentDictionary<SchemaRegistrySettings, SchemaSource> Sources = new();

    // Confluent's client sends these, most preferred first.
    private static readonly string[] AcceptedTypes = ["application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json", "application/json"];

    // Rotated certificate files are used from the next connection on; a pooled connection lives at most this long.
    private static readonly TimeSpan PooledConnectionLifetime = TimeSpan.FromMinutes(5);

    private readonly Registry[] _registries;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly ConcurrentDictionary<(int Id, string? Format), Schema> _byId = new();
    private readonly ConcurrentDictionary<(string Subject, int Version), RegisteredSchema> _byVersion = new();
    private int _lastAnswered;

    private SchemaSource(SchemaRegistrySettings settings)
    {
        Settings = settings;
        _authorization = settings.BasicAuth is { } basic
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)))
            : settings.Bearer is { } token ? new AuthenticationHeaderValue("Bearer", token) : null;
        var urls = settings.Url.Split(',', StringSplitOptions.TrimEntries);
        var tls = urls.Any(u => u.StartsWith("https:", StringComparison.OrdinalIgnoreCase)) ? new TlsConnector(settings.Tls, settings.Tls.ServerName, TlsKeys) : null;
        _registries = [.. urls.Select(url => Registry.Create(url, tls))];
    }

    public SchemaRegistrySettings Settings { get; }

    /// <summary>The source of <paramref name="settings"/>, made at its first use and kept for the process.</summary>
    public static SchemaSource For(SchemaRegistrySettings settings) => Sources.GetOrAdd(settings, s => new SchemaSource(s));

    /// <summary>The schema of <paramref name="id"/>; <paramref name="format"/> <c>serialized</c> asks for a Protobuf schema as a base64 FileDescriptorProto.</summary>
    public async Task<Schema> GetAsync(int id, string? format = null)
    {
        if (_byId.TryGetValue((id, format), out var schema))
            return schema;
        var what = string.Create(CultureInfo.InvariantCulture, $"schema id {id}");
        var path = string.Create(CultureInfo.InvariantCulture, $"schemas/ids/{id}{(format is null ? "" : "?format=" + Uri.EscapeDataString(format))}");
        schema = await AskAsync(path, what, $"{what} is not in the schema registry", answer => ReadSchema(answer, what)).ConfigureAwait(false);
        Keep(_byId, (id, format), schema);
        return schema;
    }

    /// <summary>A schema a reference of schema <paramref name="id"/> names (subject and version), with its id.</summary>
    public async Task<RegisteredSchema> GetReferencedAsync(int id, SchemaReference reference)
    {
        if (_byVersion.TryGetValue((reference.Subject, reference.Version), out var registered))
            return registered;
        var what = string.Create(CultureInfo.InvariantCulture, $"schema id {id}'s reference {reference.Subject} version {reference.Version}");
        // deleted=true: a reference stays readable after its subject version was soft-deleted, as with Confluent's client.
        var path = string.Create(CultureInfo.InvariantCulture, $"subjects/{Uri.EscapeDataString(reference.Subject)}/versions/{reference.Version}?deleted=true");
        registered = await AskAsync(path, what, string.Create(CultureInfo.InvariantCulture, $"schema id {id} references {reference.Subject} version {reference.Version}, which is not in the schema registry"), answer =>
        {
            var schema = ReadSchema(answer, what);
            return new RegisteredSchema(reference.Subject, reference.Version, Int(answer, "id"), schema.SchemaString, schema.SchemaType, schema.References);
        }).ConfigureAwait(false);
        Keep(_byVersion, (reference.Subject, reference.Version), registered);
        return registered;
    }

    // One GET, to each url in turn until one answers: a 2xx is read, a 404 is the registry's word that the schema is not
    // there, any other answer of a registry that is up (401, 403, 400, ...) is its refusal; no connection, a timeout, 408,
    // 429 and 5xx go on to the next url, and are the reason when none answers.
    private async Task<T> AskAsync<T>(string path, string what, string notFound, Func<JsonElement, T> read)
    {
        var first = Volatile.Read(ref _lastAnswered);
        var failures = new List<string>();
        for (var i = 0; i < _registries.Length; i++)
        {
            var index = (first + i) % _registries.Length;
            var registry = _registries[index];
            var named = _registries.Length > 1 ? $"{registry.Shown}: " : "";
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(registry.Base, path));
            foreach (var type in AcceptedTypes)
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            request.Headers.Authorization = _authorization;
            HttpResponseMessage response;
            try
            {
                response = await registry.Client.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
            {
                failures.Add(named + Describe(ex));
                continue;
            }

            using (response)
            {
                var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    var answer = Parse(body, what, named);
                    Volatile.Write(ref _lastAnswered, index);
                    return read(answer);
                }

                var (code, message) = ErrorOf(body);
                if (status is 408 or 429 or >= 500)
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"{named}HTTP {status}, error code {code}: {message}"));
                    continue;
                }

                if (response.StatusCode == HttpStatusCode.NotFound)
                    throw new DecodeException(DecodeFailure.UnknownSchema, string.Create(CultureInfo.InvariantCulture, $"{notFound} ({named}HTTP 404, error code {code}: {message})"));
                throw new DecodeException(DecodeFailure.RegistryUnavailable, string.Create(CultureInfo.InvariantCulture,
                    $"the schema registry refused the request for {what}: {named}HTTP {status}, error code {code}: {message}"));
            }
        }

        throw new DecodeException(DecodeFailure.RegistryUnavailable, $"the schema registry could not be asked for {what}: {string.Join("; ", failures)}");
    }

    private static JsonElement Parse(string body, string what, string named)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
                return document.RootElement.Clone();
        }
        catch (JsonException)
        {
        }

        throw new DecodeException(DecodeFailure.RegistryUnavailable, $"the schema registry's answer for {what} is not a JSON object ({named}a registry's REST API answers one)");
    }

    // The registry's JSON (Confluent's data contract): "schema", "schemaType" (absent for Avro), "references".
    private static Schema ReadSchema(JsonElement answer, string what)
    {
        var text = answer.TryGetProperty("schema", out var schema) && schema.ValueKind == JsonValueKind.String ? schema.GetString()! : throw Unreadable("has no \"schema\" string");
        var type = answer.TryGetProperty("schemaType", out var written) && written.ValueKind == JsonValueKind.String ? written.GetString() : null;
        var schemaType = type switch
        {
            null or "AVRO" => SchemaType.Avro,
            "PROTOBUF" => SchemaType.Protobuf,
            "JSON" => SchemaType.Json,
            _ => throw new DecodeException(DecodeFailure.Invalid, $"names {what}, of schema type {type}, which kcp does not decode (AVRO, PROTOBUF, JSON)"),
        };
        var references = new List<SchemaReference>();
        if (answer.TryGetProperty("references", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var reference in list.EnumerateArray())
            {
                if (reference.ValueKind != JsonValueKind.Object)
                    throw Unreadable("has a reference that is not an object");
                references.Add(new SchemaReference(String(reference, "name"), String(reference, "subject"), Int(reference, "version")));
            }
        }

        return new Schema(text, references, schemaType);
    }

    private static string String(JsonElement value, string name) =>
        value.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()! : throw Unreadable($"has no \"{name}\" string");

    private static int Int(JsonElement value, string name) =>
        value.TryGetProperty(name, out var number) && number.ValueKind == JsonValueKind.Number && number.TryGetInt32(out var result) ? result : throw Unreadable($"has no \"{name}\" number");

    private static DecodeException Unreadable(string problem) =>
        new(DecodeFailure.RegistryUnavailable, $"the schema registry's answer cannot be read: it {problem}");

    // The registry's error body: {"error_code": 40403, "message": "Schema not found"}; -1 and the body's start otherwise.
    private static (int Code, string Message) ErrorOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var code = root.TryGetProperty("error_code", out var c) && c.TryGetInt32(out var n) ? n : -1;
                var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
                return (code, Excerpt(message));
            }
        }
        catch (JsonException)
        {
        }

        return (-1, body.Length == 0 ? "(no body)" : Excerpt(body));
    }

    private static string Excerpt(string text)
    {
        var line = string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c)).Trim();
        return line.Length <= 300 ? line : line[..300] + "...";
    }

    private static string Describe(Exception ex)
    {
        for (var cause = ex; cause is not null; cause = cause.InnerException)
        {
            if (cause is TlsFailureException tls)
                return tls.Message;
        }

        if (ex is TaskCanceledException)
            return string.Create(CultureInfo.InvariantCulture, $"no answer within {SchemaRegistrySettings.RequestTimeoutMs} ms");
        return ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{ex.Message} ({inner.Message})" : ex.Message;
    }

    private static void Keep<TKey, TValue>(ConcurrentDictionary<TKey, TValue> cache, TKey key, TValue value)
        where TKey : notnull
    {
        if (cache.Count >= SchemaRegistrySettings.MaxCachedSchemas)
            cache.Clear();
        cache[key] = value;
    }

    /// <summary>One url of the registry: as configured (shown in reasons) and as requested, with its client.</summary>
    private sealed record Registry(string Shown, Uri Base, HttpClient Client)
    {
        // An https:// url is requested as http:// over the connector's TLS connection, as a route's requests are.
        public static Registry Create(string url, TlsConnector? tls)
        {
            var configured = new Uri(url.TrimEnd('/') + "/", UriKind.Absolute);
            var https = configured.Scheme == Uri.UriSchemeHttps;
            var handler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromMilliseconds(SchemaRegistrySettings.RequestTimeoutMs),
                PooledConnectionLifetime = PooledConnectionLifetime,
                // Connected directly, as a route's endpoint: a proxy would get the connector's TLS handshake.
                UseProxy = false,
                UseCookies = false,
                AllowAutoRedirect = false,
            };
            if (https)
                handler.ConnectCallback = tls!.ConnectAsync;
            var client = new HttpClient(handler, disposeHandler: true)
            {
                Timeout = TimeSpan.FromMilliseconds(SchemaRegistrySettings.RequestTimeoutMs),
                MaxResponseContentBufferSize = MaxAnswerBytes,
            };
            var requested = https ? new UriBuilder(configured) { Scheme = Uri.UriSchemeHttp, Port = configured.Port }.Uri : configured;
            return new Registry(url.TrimEnd('/'), requested, client);
        }
    }
}
