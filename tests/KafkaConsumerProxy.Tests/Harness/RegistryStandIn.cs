using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A Schema Registry stand-in on 127.0.0.1 speaking the part of the REST API that Confluent's client and serializers
/// call: <c>POST /subjects/{subject}/versions</c> (register), <c>GET /schemas/ids/{id}</c> (with or without
/// <c>?format=serialized</c>) and <c>GET /subjects/{subject}/versions/{version}</c>, and <c>GET /associations/...</c> (none: the 2.16 serializers ask it first). Any other request is answered 404
/// and listed in <see cref="Unknown"/>, so a test shows what else a client asked for. <see cref="Down"/> answers 503
/// to everything, as a registry that is down behind a load balancer.
/// </summary>
public sealed class RegistryStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<int, Entry> _schemas = new();
    private readonly ConcurrentDictionary<(string Subject, int Version), int> _versions = new();
    private readonly ConcurrentQueue<string> _unknown = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string> _authorizations = new();
    private int _nextId = 100;

    private RegistryStandIn(WebApplication app) => _app = app;

    /// <summary>A registered schema: its type (<c>AVRO</c>, <c>JSON</c>, <c>PROTOBUF</c>), text, and for Protobuf the serialized FileDescriptorProto (base64).</summary>
    public sealed record Entry(string Type, string Schema, string? Serialized, string Subject, JsonArray? References);

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>While true every request is answered 503.</summary>
    public bool Down { get; set; }

    /// <summary>While true every request is answered 401, as a registry refusing kcp's credentials.</summary>
    public bool Refusing { get; set; }

    /// <summary>The Authorization header of each request ("" when none), in arrival order.</summary>
    public IReadOnlyCollection<string> Authorizations => _authorizations;

    /// <summary>Requests of paths this stand-in does not know.</summary>
    public IReadOnlyCollection<string> Unknown => _unknown;

    /// <summary>Every request, as <c>METHOD /path?query</c>.</summary>
    public IReadOnlyCollection<string> Requests => _requests;

    /// <summary>Over HTTPS: the SNI name of each handshake, when the test's HTTPS options report them here.</summary>
    public IReadOnlyCollection<string> ServerNames { get; set; } = [];

    /// <summary>Starts the stand-in; with <paramref name="https"/> it speaks HTTPS only (<c>https://127.0.0.1:port/</c>).</summary>
    public static async Task<RegistryStandIn> StartAsync(Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions? https = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        if (https is not null)
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.UseHttps(https)));
        var app = builder.Build();
        if (https is null)
            app.Urls.Add("http://127.0.0.1:0");
        var registry = new RegistryStandIn(app);
        app.Run(registry.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        registry.BaseAddress = new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return registry;
    }

    /// <summary>Registers a schema directly (as another producer would have) and returns its id.</summary>
    public int Add(string type, string schema, string subject, string? serialized = null, JsonArray? references = null)
    {
        var existing = _schemas.FirstOrDefault(s => s.Value.Type == type && s.Value.Schema == schema);
        var id = existing.Value is not null ? existing.Key : Interlocked.Increment(ref _nextId);
        _schemas[id] = new Entry(type, schema, serialized, subject, references);
        var version = _versions.Count(v => v.Key.Subject == subject) + 1;
        if (!_versions.Values.Contains(id) || existing.Value is null)
            _versions[(subject, version)] = id;
        return id;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        _requests.Enqueue($"{context.Request.Method} {path}{context.Request.QueryString}");
        _authorizations.Enqueue(context.Request.Headers.Authorization.ToString());
        if (Down)
        {
            await AnswerAsync(context, 503, new JsonObject { ["error_code"] = 50302, ["message"] = "stand-in is down" });
            return;
        }

        if (Refusing)
        {
            await AnswerAsync(context, 401, new JsonObject { ["error_code"] = 40101, ["message"] = "Unauthorized" });
            return;
        }

        var parts = path.Trim('/').Split('/');
        if (context.Request.Method == "POST" && parts is ["subjects", var subject, "versions"])
        {
            var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!.AsObject();
            var type = body["schemaType"]?.GetValue<string>() ?? "AVRO";
            var id = Add(type, body["schema"]!.GetValue<string>(), Uri.UnescapeDataString(subject), null, body["references"] as JsonArray);
            await AnswerAsync(context, 200, new JsonObject { ["id"] = id });
        }
        else if (context.Request.Method == "GET" && parts is ["schemas", "ids", var idText] && int.TryParse(idText, out var id))
        {
            if (!_schemas.TryGetValue(id, out var entry))
            {
                await AnswerAsync(context, 404, new JsonObject { ["error_code"] = 40403, ["message"] = $"Schema {id} not found" });
                return;
            }

            var serialized = context.Request.Query["format"] == "serialized" && entry.Serialized is not null;
            await AnswerAsync(context, 200, Describe(entry, serialized));
        }
        else if (context.Request.Method == "GET" && parts is ["subjects", var name, "versions", var versionText] && int.TryParse(versionText, out var version)
            && _versions.TryGetValue((Uri.UnescapeDataString(name), version), out var referenced))
        {
            var answer = Describe(_schemas[referenced], serialized: false);
            answer["id"] = referenced;
            answer["subject"] = Uri.UnescapeDataString(name);
            answer["version"] = version;
            await AnswerAsync(context, 200, answer);
        }
        else if (context.Request.Method == "GET" && parts is ["associations", ..])
        {
            // Serializers of client 2.16 look for an association of the topic to a subject first; none: the topic's subject.
            await AnswerAsync(context, 200, new JsonArray());
        }
        else
        {
            _unknown.Enqueue($"{context.Request.Method} {path}{context.Request.QueryString}");
            await AnswerAsync(context, 404, new JsonObject { ["error_code"] = 404, ["message"] = "not known to the stand-in" });
        }
    }

    private static JsonObject Describe(Entry entry, bool serialized)
    {
        var answer = new JsonObject { ["schema"] = serialized ? entry.Serialized : entry.Schema };
        if (entry.Type != "AVRO")
            answer["schemaType"] = entry.Type;
        if (entry.References is { Count: > 0 } references)
            answer["references"] = references.DeepClone();
        return answer;
    }

    private static async Task AnswerAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/vnd.schemaregistry.v1+json";
        await context.Response.WriteAsync(body.ToJsonString(new JsonSerializerOptions()));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
