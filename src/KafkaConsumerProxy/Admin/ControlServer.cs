using System.Net.Sockets;
using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The local control channel of a running kcp: the <see cref="RoutesApi"/> over HTTP on the Unix domain socket
/// <c>{state_dir}/kcp.sock</c> (mode 0600: only the user kcp runs as, and root, can use it). <c>kcp routes</c> and
/// <c>kcp reload</c> find it from <c>--config</c>. Several kcp processes may share a state_dir (they share its skip
/// records, operator state and local records, one owner per partition): the first serves <c>kcp.sock</c>, each further
/// one <c>kcp-{pid}.sock</c>, and the CLI sends an operation to every one that answers. A socket file left by a killed
/// kcp is replaced. A socket file removed while kcp runs (state_dir deleted) is noticed within
/// <see cref="CheckInterval"/> and listened on again, state_dir re-created.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    /// <summary>The socket's file name under state_dir.</summary>
    public const string SocketName = "kcp.sock";

    private const int MaxSocketPathBytes = StateDirRules.MaxSocketPathBytes;

    /// <summary>How often the socket file is checked for; 2 s.</summary>
    internal static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    private readonly string _stateDir;
    private readonly RouteRegistry _registry;
    private readonly FleetControl? _fleet;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private WebApplication? _app;

    private ControlServer(WebApplication app, string path, string stateDir, RouteRegistry registry, ILogger logger, FleetControl? fleet)
    {
        _app = app;
        Path = path;
        _stateDir = stateDir;
        _registry = registry;
        _fleet = fleet;
        _logger = logger;
        _watch = WatchAsync(_stop.Token);
    }

    public string Path { get; }

    public static string SocketPath(string stateDir) => System.IO.Path.Combine(stateDir, SocketName);

    /// <summary>Every control socket file under <paramref name="stateDir"/>: <c>kcp.sock</c> first, then <c>kcp-{pid}.sock</c>.</summary>
    public static IReadOnlyList<string> SocketPaths(string stateDir)
    {
        var paths = new List<string>();
        if (File.Exists(SocketPath(stateDir)))
        {
            paths.Add(SocketPath(stateDir));
        }

        try
        {
            paths.AddRange(Directory.EnumerateFiles(stateDir, "kcp-*.sock").Order(StringComparer.Ordinal));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No state_dir: no kcp runs there.
        }

        return paths;
    }

    /// <summary>Listens on the state_dir's socket.</summary>
    /// <exception cref="InvalidOperationException">The socket cannot be created.</exception>
    public static async Task<ControlServer> StartAsync(string stateDir, RouteRegistry registry, ILogger logger, FleetControl? fleet = null)
    {
        var path = SocketPath(stateDir);
        if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
        {
            throw new InvalidOperationException($"the control socket path {path} is longer than the {MaxSocketPathBytes} bytes a Unix socket path may have; use a shorter state_dir");
        }

        foreach (var existing in SocketPaths(stateDir))
        {
            if (await AnswersAsync(existing, registry.Time).ConfigureAwait(false))
            {
                if (existing == path)
                {
                    // Another kcp shares this state_dir: this one gets a socket of its own.
                    path = System.IO.Path.Combine(stateDir, $"kcp-{Environment.ProcessId}.sock");
                    Log.ControlSocketShared(logger, existing, path);
                }

                continue;
            }

            File.Delete(existing);
            Log.ControlStaleSocketReplaced(logger, existing);
        }

        if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
        {
            throw new InvalidOperationException($"the control socket path {path} is longer than the {MaxSocketPathBytes} bytes a Unix socket path may have; use a shorter state_dir");
        }

        var app = await ListenAsync(path, registry, fleet).ConfigureAwait(false);
        Log.ControlListening(logger, path);
        return new ControlServer(app, path, stateDir, registry, logger, fleet);
    }

    private static async Task<WebApplication> ListenAsync(string path, RouteRegistry registry, FleetControl? fleet)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();

        // The process's own host handles the stop signals; this app is stopped by the runner after the routes.
        builder.Services.AddSingleton<IHostLifetime, RunnerLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.ListenUnixSocket(path);
        });
        var app = builder.Build();
        RoutesApi.Map(app, registry, _ => "control socket", fleet);
        try
        {
            await app.StartAsync().ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return app;
    }

    // The listener of a removed socket file still runs but no client can reach it: listen at the path again.
    private async Task WatchAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(CheckInterval, _registry.Time);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                if (File.Exists(Path))
                {
                    continue;
                }

                try
                {
                    Directory.CreateDirectory(_stateDir);
                    // The old listener first: stopping it may remove the file at its path, which the new one creates.
                    if (_app is { } old)
                    {
                        _app = null;
                        await StopAppAsync(old, _registry.Time).ConfigureAwait(false);
                    }

                    _app = await ListenAsync(Path, _registry, _fleet).ConfigureAwait(false);
                    failing = false;
                    Log.ControlSocketRecreated(_logger, Path);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    if (!failing)
                    {
                        Log.ControlSocketRecreateFailed(_logger, Path, ex.Message);
                    }

                    failing = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private static async Task StopAppAsync(WebApplication app, TimeProvider time)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
        try
        {
            await app.StopAsync(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped by disposing it.
        }

        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>True when something accepts connections on the socket <paramref name="path"/>.</summary>
    internal static async Task<bool> AnswersAsync(string path, TimeProvider time)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        _stop.Dispose();
        if (_app is { } app)
        {
            await LocalApp.StopAsync(app, Path, _registry.Time).ConfigureAwait(false);
        }
    }

    private sealed class RunnerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
