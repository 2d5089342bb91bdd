using System.Buffers.Binary;
using System.Text;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>One export request as <see cref="OtlpCollector"/> received it.</summary>
public sealed record OtlpRequest(string Path, string ContentType, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>A span of an exported <c>ExportTraceServiceRequest</c>, with its resource and scope.</summary>
public sealed record OtlpSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope,
    IReadOnlyDictionary<string, object> Attributes, IReadOnlyDictionary<string, object> Resource);

/// <summary>A metric of an exported <c>ExportMetricsServiceRequest</c>: its name, scope, resource and data points' attributes.</summary>
public sealed record OtlpLog(string Body, int Severity, IReadOnlyDictionary<string, object> Attributes, IReadOnlyDictionary<string, object> Resource);

public sealed record OtlpMetric(string Name, string Scope, IReadOnlyList<IReadOnlyDictionary<string, object>> Points, IReadOnlyDictionary<string, object> Resource);

/// <summary>
/// An OTLP/HTTP collector stand-in: Kestrel on 127.0.0.1 with an ephemeral port, accepting <c>POST /v1/traces</c> and
/// <c>/v1/metrics</c> (<c>application/x-protobuf</c>) and answering 200 with an empty response message. The bodies are
/// decoded by <see cref="Decode"/>, a reader of the protobuf wire format that knows just the OTLP fields the tests check.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<OtlpRequest> _requests = [];

    private OtlpCollector(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<OtlpRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Every span received so far.</summary>
    public IReadOnlyList<OtlpSpan> Spans => [.. Requests.Where(r => r.Path == "/v1/traces").SelectMany(r => Decode.Spans(r.Body))];

    /// <summary>Every metric received so far (a metric appears once per export).</summary>
    public IReadOnlyList<OtlpMetric> Metrics => [.. Requests.Where(r => r.Path == "/v1/metrics").SelectMany(r => Decode.Metrics(r.Body))];

    /// <summary>The log records of every <c>/v1/logs</c> request so far.</summary>
    public IReadOnlyList<OtlpLog> Logs => [.. Requests.Where(r => r.Path == "/v1/logs").SelectMany(r => Decode.Logs(r.Body))];

    /// <summary>
    /// Starts a collector. With <paramref name="grpc"/> it speaks OTLP/gRPC instead: HTTP/2 without TLS, the
    /// <c>TraceService/Export</c>, <c>MetricsService/Export</c> and <c>LogsService/Export</c> methods, length-prefixed messages and a
    /// <c>grpc-status: 0</c> trailer; the requests are recorded under <c>/v1/traces</c> and <c>/v1/metrics</c> all the same.
    /// With <paramref name="https"/> it is served over TLS (see <c>TlsEndpoint.HttpsOptions</c>) and <see cref="BaseAddress"/> is https://.
    /// </summary>
    public static async Task<OtlpCollector> StartAsync(bool grpc = false, HttpsConnectionAdapterOptions? https = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l =>
        {
            l.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
            if (https is not null)
                l.UseHttps(https);
        }));
        var app = builder.Build();
        var collector = new OtlpCollector(app);
        foreach (var (service, signal) in new[] { ("trace.v1.TraceService", "traces"), ("metrics.v1.MetricsService", "metrics"), ("logs.v1.LogsService", "logs") })
        {
            app.MapPost($"/opentelemetry.proto.collector.{service}/Export", async context =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                var framed = body.ToArray();
                // One message: a compressed flag (0) and a big-endian length before the protobuf bytes.
                var message = framed.Length >= 5 && framed[0] == 0 ? framed.AsSpan(5, (int)BinaryPrimitives.ReadUInt32BigEndian(framed.AsSpan(1, 4))).ToArray() : framed;
                var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
                lock (collector._gate)
                {
                    collector._requests.Add(new OtlpRequest("/v1/" + signal, context.Request.ContentType ?? "", headers, message));
                }

                context.Response.ContentType = "application/grpc";
                await context.Response.Body.WriteAsync(new byte[5]);
                context.Response.AppendTrailer("grpc-status", "0");
            });
        }

        app.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            lock (collector._gate)
            {
                collector._requests.Add(new OtlpRequest("/v1/" + signal, context.Request.ContentType ?? "", headers, body.ToArray()));
            }

            // An empty Export*ServiceResponse: full success.
            context.Response.ContentType = "application/x-protobuf";
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        collector.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return collector;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling; throws with <paramref name="describe"/> when it does not in time.</summary>
    public Task WaitForAsync(Func<OtlpCollector, bool> condition, TimeSpan timeout, Func<string> describe) =>
        Eventually.TrueAsync(() => condition(this), "the collector's condition", timeout, describe, TimeSpan.FromMilliseconds(50));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Reads the OTLP protobuf messages: only the fields the tests look at, the rest is skipped by wire type.</summary>
    public static class Decode
    {
        // ExportTraceServiceRequest: 1 resource_spans; ResourceSpans: 1 resource, 2 scope_spans; ScopeSpans: 1 scope,
        // 2 spans; Span: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 9 attributes.
        public static IEnumerable<OtlpSpan> Spans(byte[] body) =>
            from item in Scoped(body)
            let fields = Fields(item.Message).ToList()
            select new OtlpSpan(
                Hex(Bytes(fields, 1)), Hex(Bytes(fields, 2)), Hex(Bytes(fields, 4)), Text(Bytes(fields, 5)),
                (int)fields.FirstOrDefault(f => f.Number == 6).Varint,
                item.Scope, Attributes(fields.Where(f => f.Number == 9).Select(f => f.Bytes)), item.Resource);

        // ExportMetricsServiceRequest: 1 resource_metrics; ResourceMetrics: 1 resource, 2 scope_metrics; ScopeMetrics:
        // 1 scope, 2 metrics; Metric: 1 name, 5 gauge, 7 sum, 9 histogram, each with 1 data_points; a number data
        // point's attributes are field 7, a histogram data point's field 9.
        public static IEnumerable<OtlpMetric> Metrics(byte[] body)
        {
            foreach (var (resource, scope, metric) in Scoped(body))
            {
                var fields = Fields(metric).ToList();
                var points = new List<IReadOnlyDictionary<string, object>>();
                foreach (var (kind, attributesField) in new[] { (5, 7), (7, 7), (9, 9) })
                {
                    foreach (var data in fields.Where(f => f.Number == kind))
                        points.AddRange(Messages(data.Bytes, 1).Select(p => Attributes(Messages(p, attributesField))));
                }

                yield return new OtlpMetric(Text(Bytes(fields, 1)), scope, points, resource);
            }
        }

        // ExportLogsServiceRequest nests as the others; LogRecord: 2 severity_number, 5 body (AnyValue: 1 string), 6 attributes.
        public static IEnumerable<OtlpLog> Logs(byte[] body) =>
            from item in Scoped(body)
            let fields = Fields(item.Message).ToList()
            select new OtlpLog(
                Text(Bytes(Fields(Bytes(fields, 5)).ToList(), 1)),
                (int)fields.FirstOrDefault(f => f.Number == 2).Varint,
                Attributes(fields.Where(f => f.Number == 6 && f.WireType == 2).Select(f => f.Bytes)), item.Resource);

        // Traces and metrics nest alike: 1 resource_*, each with 1 resource and 2 scope_*, each with 1 scope and 2 items.
        private static IEnumerable<(Dictionary<string, object> Resource, string Scope, byte[] Message)> Scoped(byte[] body) =>
            from resourceItems in Messages(body, 1)
            let resource = Resource(resourceItems)
            from scopeItems in Messages(resourceItems, 2)
            let scope = ScopeName(scopeItems)
            from item in Messages(scopeItems, 2)
            select (resource, scope, item);

        private static Dictionary<string, object> Resource(byte[] parent) =>
            Messages(parent, 1).Select(r => Attributes(Messages(r, 1))).FirstOrDefault() ?? [];

        private static string ScopeName(byte[] parent) => Messages(parent, 1).Select(s => Text(Bytes(Fields(s).ToList(), 1))).FirstOrDefault() ?? "";

        // KeyValue: 1 key, 2 value; AnyValue: 1 string, 2 bool, 3 int, 4 double.
        private static Dictionary<string, object> Attributes(IEnumerable<byte[]> keyValues)
        {
            var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (var keyValue in keyValues)
            {
                var fields = Fields(keyValue).ToList();
                var value = Fields(Bytes(fields, 2)).FirstOrDefault();
                attributes[Text(Bytes(fields, 1))] = value.Number switch
                {
                    1 => Text(value.Bytes),
                    2 => value.Varint != 0,
                    3 => (long)value.Varint,
                    4 => BitConverter.Int64BitsToDouble((long)value.Varint),
                    _ => "?",
                };
            }

            return attributes;
        }

        private static IEnumerable<byte[]> Messages(byte[] message, int number) => Fields(message).Where(f => f.Number == number && f.WireType == 2).Select(f => f.Bytes);

        private static byte[] Bytes(List<Field> fields, int number) => fields.FirstOrDefault(f => f.Number == number && f.WireType == 2).Bytes ?? [];

        private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

        private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

        /// <summary>The fields of one message, in order: varints and fixed values in <c>Varint</c>, length-delimited ones in <c>Bytes</c>.</summary>
        private static IEnumerable<Field> Fields(byte[] message)
        {
            var at = 0;
            while (at < message.Length)
            {
                var tag = ReadVarint(message, ref at);
                var wireType = (int)(tag & 7);
                var number = (int)(tag >> 3);
                switch (wireType)
                {
                    case 0:
                        yield return new Field(number, wireType, ReadVarint(message, ref at), []);
                        break;
                    case 1:
                        yield return new Field(number, wireType, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(at, 8)), []);
                        at += 8;
                        break;
                    case 2:
                        var length = (int)ReadVarint(message, ref at);
                        yield return new Field(number, wireType, 0, message.AsSpan(at, length).ToArray());
                        at += length;
                        break;
                    case 5:
                        yield return new Field(number, wireType, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(at, 4)), []);
                        at += 4;
                        break;
                    default:
                        throw new InvalidDataException($"protobuf wire type {wireType} (field {number}) at byte {at} is not used by OTLP");
                }
            }
        }

        private static ulong ReadVarint(byte[] message, ref int at)
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = message[at++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                    return value;
            }

            throw new InvalidDataException("varint longer than 10 bytes");
        }

        private readonly record struct Field(int Number, int WireType, ulong Varint, byte[] Bytes);
    }
}
