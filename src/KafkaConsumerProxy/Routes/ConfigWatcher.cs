using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// Reloads the configuration when kcp.yaml or a file of routes_dir changes: changes are collected until
/// <see cref="Debounce"/> has passed without another one (an editor's save is several events; a deploy writes many
/// files), then <see cref="RouteRegistry.ReloadAsync"/> runs once.
/// </summary>
internal sealed class ConfigWatcher : IDisposable
{
    /// <summary>Quiet time after the last change before the reload. The default value is 1 second.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromSeconds(1);

    private readonly RouteRegistry _registry;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private string? _watchedRoutesDir;
    private int _reloading;
    private bool _disposed;

    public ConfigWatcher(RouteRegistry registry, ILogger logger, TimeProvider time)
    {
        _registry = registry;
        _logger = logger;
        _timer = time.CreateTimer(_ => _ = ReloadAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Watch();
    }

    private void Watch()
    {
        var config = _registry.Config;
        lock (_gate)
        {
            if (_disposed || string.Equals(_watchedRoutesDir, config.RoutesDir, StringComparison.Ordinal))
            {
                return;
            }

            foreach (var watcher in _watchers)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
            _watchedRoutesDir = config.RoutesDir;
            Add(Path.GetDirectoryName(config.ConfigFile)!, Path.GetFileName(config.ConfigFile));
            Add(config.RoutesDir, "*");
        }
    }

    private void Add(string directory, string filter)
    {
        try
        {
            var watcher = new FileSystemWatcher(directory, filter)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => Changed();
            watcher.Created += (_, _) => Changed();
            watcher.Deleted += (_, _) => Changed();
            watcher.Renamed += (_, _) => Changed();
            watcher.Error += (_, e) => Log.ReloadWatchFailed(_logger, directory, e.GetException().Message);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            Log.ReloadWatchFailed(_logger, directory, ex.Message);
        }
    }

    private void Changed()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private async Task ReloadAsync()
    {
        if (Interlocked.Exchange(ref _reloading, 1) == 1)
        {
            // A reload is running; look again once it is done, the files may have changed meanwhile.
            Changed();
            return;
        }

        try
        {
            await _registry.ReloadAsync("files changed").ConfigureAwait(false);
            Watch();
        }
#pragma warning disable CA1031 // A reload that throws must not end the watching; the error is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ReloadError(_logger, ex.Message.ReplaceLineEndings(" "));
        }
        finally
        {
            Volatile.Write(ref _reloading, 0);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var watcher in _watchers)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
        }

        _timer.Dispose();
    }
}
