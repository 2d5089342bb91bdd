using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Delivery.Tls;

/// <summary>
/// A Kestrel HTTPS endpoint on 127.0.0.1 with a test-made certificate. With <c>clientCa</c> it requires a client
/// certificate chaining to that CA. Every answer closes its connection, so each request opens a new one (and so a new
/// handshake, which a rotation test needs). Records the SNI name and the client certificate subject of each request.
/// </summary>
internal sealed class TlsEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TlsEndpoint(WebApplication app) => _app = app;

    public int Port { get; private set; }

    /// <summary>(SNI host name, client certificate subject or null) per request, in arrival order.</summary>
    /// <summary>The SNI name of each handshake ("" when none was sent).</summary>
    public ConcurrentQueue<string> ServerNames { get; } = new();

    public ConcurrentQueue<(string? ServerName, string? ClientSubject)> Seen { get; } = new();

    public static async Task<TlsEndpoint> StartAsync(X509Certificate2 serverCertificate, X509Certificate2? clientCa = null)
    {
        TlsEndpoint? endpoint = null;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(HttpsOptions(serverCertificate, clientCa, name => endpoint!.ServerNames.Enqueue(name))));
        });
        var app = builder.Build();
        endpoint = new TlsEndpoint(app);
        app.Run(async context =>
        {
            endpoint.Seen.Enqueue((endpoint.ServerNames.LastOrDefault(), context.Connection.ClientCertificate?.Subject));
            context.Response.Headers.Connection = "close";
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("{\"errno\":0}");
        });
        await app.StartAsync();
        endpoint.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port;
        return endpoint;
    }

    /// <summary>
    /// Kestrel's HTTPS options for <paramref name="serverCertificate"/>; with <paramref name="clientCa"/> a client certificate
    /// chaining to that CA is required. <paramref name="serverName"/> hears the SNI name of each handshake ("" when none).
    /// </summary>
    public static HttpsConnectionAdapterOptions HttpsOptions(X509Certificate2 serverCertificate, X509Certificate2? clientCa, Action<string>? serverName = null) => new()
    {
        ServerCertificateSelector = (_, name) =>
        {
            serverName?.Invoke(name ?? "");
            return serverCertificate;
        },
        ClientCertificateMode = clientCa is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.RequireCertificate,
        ClientCertificateValidation = (certificate, sent, _) =>
        {
            using var chain = new X509Chain();
            // Only what the client sent may complete the chain to the trusted root (its intermediates).
            if (sent is not null)
                chain.ChainPolicy.ExtraStore.AddRange(sent.ChainPolicy.ExtraStore);
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(clientCa!);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        },
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
