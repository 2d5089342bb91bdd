using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The admin endpoint: its own Kestrel listener on <c>admin.listen</c>, in the kcp process, serving
/// <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c>, <c>/readyz</c>, the <c>/api/v1</c> API
/// (<see cref="RoutesApi"/>, the same code as the control socket) and the dashboard at <c>/</c>. The address it bound
/// (port 0: any free one) is logged and written to <c>{state_dir}/admin.json</c>, where <c>kcp status</c> and tests find it.
/// <para>
/// Access: with <c>token_file</c>, every request except <c>/healthz</c> and <c>/readyz</c> needs
/// <c>Authorization: Bearer &lt;token&gt;</c> (compared in constant time); without one, requests that change state are
/// accepted only from kcp's own user on loopback (<see cref="LoopbackPeer"/>). Requests that change state are refused
/// when a browser says they come from another site (Origin or Sec-Fetch-Site), so a web page cannot make a visitor's
/// browser skip messages. Requests must name the endpoint in Host and Origin (<see cref="AdminHosts"/>), so a page that
/// rebinds its own name to this address is refused too. <c>/readyz</c> gives its reasons only to a request that may read
/// the API. Refused requests are summarised (<see cref="AdminRefusals"/>).
/// </para>
/// <para>
/// Isolation from delivery: connections (<see cref="AdminConnections"/>), request sizes and header times are bounded,
/// so a slow or hostile client holds at most a few connections of this listener and cannot keep health probes out;
/// deliveries use their own connection pools.
/// </para>
/// </summary>
internal sealed class AdminServer : IAsyncDisposable
{
    /// <summary>The file under state_dir that holds the bound address.</summary>
    public const string AddressFileName = "admin.json";

    private const long MaxRequestBodyBytes = 64 * 1024;

    private readonly WebApplication _app;
    private readonly string _addressFile;
    private readonly AdminConnections _connections;
    private readonly AdminRefusals _refusals;

    private readonly AddressAnnouncement _announcement;

    private readonly TimeProvider _time;

    private AdminServer(WebApplication app, Uri address, string addressFile, AdminConnections connections, AdminRefusals refusals, AddressAnnouncement announcement, TimeProvider time)
    {
        _app = app;
        Address = address;
        _addressFile = addressFile;
        _connections = connections;
        _refusals = refusals;
        _announcement = announcement;
        _time = time;
    }

    /// <summary>The base address it listens on, such as <c>http://127.0.0.1:9464/</c>.</summary>
    public Uri Address { get; }

    public static string AddressFile(string stateDir) => Path.Combine(stateDir, AddressFileName);

    /// <summary>
    /// <c>admin.json</c>, or <c>admin-{pid}.json</c> when another live kcp process sharing the state_dir wrote
    /// <c>admin.json</c>.
    /// </summary>
    private static string AddressFileFor(string stateDir)
    {
        var main = AddressFile(stateDir);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(main));
            var pid = doc.RootElement.GetProperty("pid").GetInt32();
            if (pid != Environment.ProcessId && Alive(pid))
            {
                return Path.Combine(stateDir, $"admin-{Environment.ProcessId}.json");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // None, or unreadable: this process takes it.
        }

        return main;
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Starts listening; null when <c>admin.listen: off</c>.</summary>
    /// <exception cref="IOException">The address cannot be bound (in use, naming who holds it when it can be found; not this machine's).</exception>
    public static async Task<AdminServer?> StartAsync(KcpConfig config, RouteRegistry registry, ILogger logger, FleetControl? fleet = null)
    {
        var settings = config.Admin;
        if (settings.Listen is not { } listen)
        {
            Log.AdminOff(logger);
            return null;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        var adminLogger = registry.Loggers.CreateLogger("kcp.admin");
        var connections = new AdminConnections(adminLogger, registry.Time);
        var refusals = new AdminRefusals(new AuditLog(config.StateDir, adminLogger, registry.Time), adminLogger, registry.Time);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxConcurrentUpgradedConnections = 0;
            k.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            k.Limits.MaxRequestLineSize = 8 * 1024;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            k.Limits.Http2.MaxStreamsPerConnection = 16;
            k.Listen(listen, o => o.Use(connections.Limit));
        });
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => TelemetryResource.Configure(r, config.Telemetry.ServiceName))
            .WithMetrics(m => m
            .AddMeter(ProxyMetrics.MeterName)
            .AddHttpClientSeries(config.Telemetry.HttpConnectionMetrics)
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());

        var app = builder.Build();
        var token = settings.Token is { } t ? SHA256.HashData(Encoding.UTF8.GetBytes(t)) : null;
        var hosts = new AdminHosts(listen.Address, settings.AllowedHosts);
        app.Use(async (context, next) =>
        {
            using var serving = connections.Serving(context.Connection.Id);
            if (Refusal(context, token, hosts) is { } refusal)
            {
                refusals.Add(context, RefusedWho(context, token), refusal.Status, refusal.Reason);
                if (refusal.Status == StatusCodes.Status401Unauthorized)
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer realm=\"kcp\"";
                }

                context.Response.StatusCode = refusal.Status;
                await context.Response.WriteAsJsonAsync(new ControlError(refusal.Reason), ControlJson.Options).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (HttpContext context) =>
        {
            // Probes need the status only; the reasons name routes, groups and failures, so they are for readers of the API.
            var reasons = NotReady(registry);
            var status = reasons.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            return MayRead(context, token, hosts)
                ? Results.Json(new { ready = reasons.Count == 0, reasons }, ControlJson.Options, statusCode: status)
                : Results.Json(new { ready = reasons.Count == 0 }, ControlJson.Options, statusCode: status);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        Dashboard.Map(app, settings.HasToken);
        RoutesApi.Map(app, registry, context => Who(context, token), fleet);

        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            // An operator who set admin.listen expects the metrics, API and dashboard there: kcp does not run without
            // them; admin.listen: off is the way to run without.
            await app.DisposeAsync().ConfigureAwait(false);
            connections.Dispose();
            refusals.Dispose();
            var owner = ListenerOwner.Describe(listen) is { } who ? " " + who : "";
            throw new IOException($"admin.listen {listen}: the address is already in use{owner}; stop that process, give this kcp another admin.listen (port 0: any free port), or set admin.listen: off to run without metrics, API and dashboard", ex);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            connections.Dispose();
            refusals.Dispose();
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new IOException($"the admin endpoint did not report the address it listens on ({listen})");
        var address = new Uri(bound.EndsWith('/') ? bound : bound + "/");
        var file = AddressFileFor(config.StateDir);
        var text = JsonSerializer.Serialize(new { url = address.ToString(), pid = Environment.ProcessId, token_required = settings.HasToken }, ControlJson.Options);
        // The file first, so that whoever waits for this line finds it.
        var announcement = new AddressAnnouncement(config.StateDir, file, text, logger, registry.Time);
        Log.AdminListening(logger, address.Authority, settings.HasToken ? "bearer token required" : $"no token: changes only from uid {LoopbackPeer.Self} on loopback", file);
        return new AdminServer(app, address, file, connections, refusals, announcement, registry.Time);
    }

    /// <summary>Why the routes are not all ready: a route that should run (not stopped by an operator) is not running or has not joined.</summary>
    internal static List<string> NotReady(RouteRegistry registry)
    {
        var reasons = new List<string>();
        var observations = registry.Metrics.Observations;
        foreach (var route in registry.List())
        {
            if (route.OperatorStopped)
            {
                continue;
            }

            if (route.State is not (RouteState.Running or RouteState.Paused))
            {
                reasons.Add($"route {route.Route} is {route.State.ToString().ToLowerInvariant()}: {route.Cause}");
            }
            else if (!observations.HasJoined(route.Route))
            {
                reasons.Add($"route {route.Route} has not joined its group {route.Group} yet");
            }
        }

        return reasons;
    }

    /// <summary>Why the request does not carry <paramref name="token"/>, or null when it does.</summary>
    private static string? TokenProblem(HttpContext context, byte[] token)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string Prefix = "Bearer ";
        if (!header.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return "this kcp admin endpoint needs 'Authorization: Bearer <token>' (the token of admin.token_file)";
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[Prefix.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, token) ? null : "wrong token";
    }

    /// <summary>True when the request may read the API: it names this endpoint and carries the token, if one is set.</summary>
    private static bool MayRead(HttpContext context, byte[]? token, AdminHosts hosts) =>
        hosts.Allows(context.Request.Host.Host) && (token is null || TokenProblem(context, token) is null);

    private static bool IsRead(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method);

    private static string Who(HttpContext context, byte[]? token)
    {
        var remote = context.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : "unknown";
        if (token is not null)
        {
            return $"token holder at {remote}";
        }

        return context.Items.TryGetValue(PeerUidKey, out var uid) && uid is uint known ? $"uid {known} at {remote}" : remote;
    }

    /// <summary>Who sent a refused request: a token holder only when it carried the token.</summary>
    private static string RefusedWho(HttpContext context, byte[]? token)
    {
        var remote = context.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : "unknown";
        if (token is not null)
        {
            return TokenProblem(context, token) is null ? $"token holder at {remote}" : $"client without the token at {remote}";
        }

        return context.Items.TryGetValue(PeerUidKey, out var uid) && uid is uint known ? $"uid {known} at {remote}" : $"client at {remote}";
    }

    private static readonly object PeerUidKey = new();

    /// <summary>The uid of the local user who opened the connection (looked up once per request), or null.</summary>
    private static uint? PeerUid(HttpContext context)
    {
        if (context.Items.TryGetValue(PeerUidKey, out var known))
        {
            return known as uint?;
        }

        var connection = context.Connection;
        uint? uid = connection.RemoteIpAddress is { } remote && connection.LocalIpAddress is { } local
            ? LoopbackPeer.Uid(new IPEndPoint(remote, connection.RemotePort), new IPEndPoint(local, connection.LocalPort))
            : null;
        context.Items[PeerUidKey] = uid;
        return uid;
    }

    private static (int Status, string Reason)? Refusal(HttpContext context, byte[]? token, AdminHosts hosts)
    {
        var path = context.Request.Path;
        if (path.Equals("/healthz", StringComparison.Ordinal) || path.Equals("/readyz", StringComparison.Ordinal))
        {
            return null;
        }

        // Before the token: a page that rebound its name to this address must not even learn whether one is needed.
        if (!hosts.Allows(context.Request.Host.Host))
        {
            return (StatusCodes.Status421MisdirectedRequest,
                $"Host '{LogText.Escape(context.Request.Host.Value, 100)}' does not name this admin endpoint; use {hosts.Described}, or add the name to admin.allowed_hosts");
        }

        // The dashboard's own files carry no data; the page asks for the token before it calls the API.
        var isPage = IsRead(context.Request.Method) && (path == "/" || path.StartsWithSegments("/dashboard", StringComparison.Ordinal));
        if (token is not null && !isPage && TokenProblem(context, token) is { } tokenProblem)
        {
            return (StatusCodes.Status401Unauthorized, tokenProblem);
        }

        if (IsRead(context.Request.Method))
        {
            return null;
        }

        if (token is null && context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote))
        {
            return (StatusCodes.Status403Forbidden, "without admin.token_file, requests that change state are accepted only from this machine (loopback)");
        }

        // Every local user reaches a loopback port; without a token only kcp's own user may change state, as on the
        // control socket (0600).
        if (token is null)
        {
            var uid = PeerUid(context);
            if (uid != LoopbackPeer.Self)
            {
                return (StatusCodes.Status403Forbidden, uid is null
                    ? "without admin.token_file, requests that change state are accepted only from the user kcp runs as, and the user of this connection could not be found; set admin.token_file"
                    : $"without admin.token_file, requests that change state are accepted only from the user kcp runs as (uid {LoopbackPeer.Self}), not from uid {uid}; use that user, kcp routes (the control socket) or set admin.token_file");
            }
        }

        // A page of another site may make the browser send a POST here (no preflight for a simple request).
        var site = context.Request.Headers["Sec-Fetch-Site"].ToString();
        if (site is "cross-site" or "same-site")
        {
            return (StatusCodes.Status403Forbidden, "cross-site request refused");
        }

        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && hosts.OriginProblem(origin, context.Request.Host) is { } problem)
        {
            return (StatusCodes.Status403Forbidden, $"request from another origin ({LogText.Escape(origin, 100)}) refused: it {problem}");
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _announcement.DisposeAsync().ConfigureAwait(false);
            await LocalApp.StopAsync(_app, _addressFile, _time).ConfigureAwait(false);
        }
        finally
        {
            _connections.Dispose();
            _refusals.Dispose();
        }
    }

    /// <summary>Disposes nothing: stands for the endpoint when it is off.</summary>
    internal static IAsyncDisposable Off { get; } = new Nothing();

    private sealed class Nothing : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
