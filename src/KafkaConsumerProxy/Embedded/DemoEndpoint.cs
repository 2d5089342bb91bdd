using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// The HTTP endpoint of <c>kcp demo</c>: a Kestrel server on 127.0.0.1 that accepts the proxy's form posts,
/// answers <c>{"errno":0}</c>, and refuses a small share of first attempts with an <c>errno</c> so that the
/// demo also shows retries.
/// </summary>
internal sealed class DemoEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HashSet<string> _seen = [];
    private readonly Lock _lock = new();
    private long _received;

    private DemoEndpoint(WebApplication app) => _app = app;

    /// <summary>Distinct messages (by Idempotency-Key) that were accepted.</summary>
    public long Accepted { get { lock (_lock) { return _seen.Count; } } }

    /// <summary>All requests, accepted or refused.</summary>
    public long Received => Interlocked.Read(ref _received);

    public int Port { get; private set; }

    /// <summary>A message with this key (or this text in its body) is refused every time (422), for trying Skip on the dashboard.</summary>
    public const string StuckMarker = "order-stuck";

    /// <summary>Starts the endpoint; every <paramref name="refuseEvery"/>-th first attempt is refused (0 = never).</summary>
    public static async Task<DemoEndpoint> StartAsync(string path, int refuseEvery)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var endpoint = new DemoEndpoint(app);
        var tried = new HashSet<string>();
        app.MapPost(path, async (HttpContext context) =>
        {
            var key = context.Request.Headers["Idempotency-Key"].ToString();
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
            if (body.Contains(StuckMarker, StringComparison.Ordinal) || context.Request.Headers["X-Kafka-Key"].ToString() == StuckMarker)
            {
                Interlocked.Increment(ref endpoint._received);
                return Results.Text("{\"errno\":1,\"errmsg\":\"demo: this order is refused every time; skip it on the dashboard\"}", "application/json", Encoding.UTF8, StatusCodes.Status422UnprocessableEntity);
            }

            var count = Interlocked.Increment(ref endpoint._received);
            lock (endpoint._lock)
            {
                if (refuseEvery > 0 && count % refuseEvery == 0 && tried.Add(key))
                {
                    return Results.Text("{\"errno\":1,\"errmsg\":\"demo: refused once to show a retry\"}", "application/json", Encoding.UTF8);
                }

                endpoint._seen.Add(key);
            }

            return Results.Text("{\"errno\":0}", "application/json", Encoding.UTF8);
        });
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        endpoint.Port = new Uri(address).Port;
        return endpoint;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
