using System.Net.Sockets;
using System.Text;
using KafkaConsumerProxy.Configuration;
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
/// kcp is replaced.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    /// <summary>The socket's file name under state_dir.</summary>
    public const string SocketName = "kcp.sock";

    private const int MaxSocketPathBytes = StateDirRules.MaxSocketPathBytes;

    private readonly WebApplication _app;

    private ControlServer(WebApplication app, string path)
    {
        _app = app;
        Path = path;
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
    public static async Task<ControlServer> StartAsync(string stateDir, RouteRegistry registry, ILogger logger)
    {
        var path = SocketPath(stateDir);
        if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
        {
            throw new InvalidOperationException($"the control socket path {path} is longer than the {MaxSocketPathBytes} bytes a Unix socket path may have; use a shorter state_dir");
        }

        foreach (var existing in SocketPaths(stateDir))
        {
            if (await AnswersAsync(existing).ConfigureAwait(false))
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
        RoutesApi.Map(app, registry, _ => "control socket");
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

        Log.ControlListening(logger, path);
        return new ControlServer(app, path);
    }

    /// <summary>True when something accepts connections on the socket <paramref name="path"/>.</summary>
    internal static async Task<bool> AnswersAsync(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
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

    public ValueTask DisposeAsync() => LocalApp.StopAsync(_app, Path);

    private sealed class RunnerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
