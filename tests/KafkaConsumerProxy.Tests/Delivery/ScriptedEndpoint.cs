using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// A Kestrel endpoint on 127.0.0.1 (ephemeral port) that answers every request with a handler written for the test,
/// for answers <see cref="Harness.RecordingReceiver"/> has no fault for: a body that never ends, a body of an exact size.
/// Counts requests.
/// </summary>
internal sealed class ScriptedEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private ScriptedEndpoint(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public int Requests => Volatile.Read(ref _requests);

    public static async Task<ScriptedEndpoint> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        var endpoint = new ScriptedEndpoint(app);
        app.Run(async context =>
        {
            Interlocked.Increment(ref endpoint._requests);
            await handler(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        endpoint.Port = new Uri(address).Port;
        return endpoint;
    }

    /// <summary>200 with <paramref name="start"/> as the first bytes of a body that never ends (chunked, or with a longer Content-Length).</summary>
    public static RequestDelegate HoldBodyOpen(ScriptedEndpointCounter counter, byte[] start, long? contentLength = null, int status = 200) => async context =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = contentLength;
        await context.Response.StartAsync();
        await context.Response.Body.WriteAsync(start);
        await context.Response.Body.FlushAsync();
        try
        {
            // Bounded so a broken client cannot keep the test server busy for long.
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            counter.OnAborted();
        }
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Counts held responses whose connection the client closed.</summary>
internal sealed class ScriptedEndpointCounter
{
    private int _aborted;

    public int Aborted => Volatile.Read(ref _aborted);

    public void OnAborted() => Interlocked.Increment(ref _aborted);
}
