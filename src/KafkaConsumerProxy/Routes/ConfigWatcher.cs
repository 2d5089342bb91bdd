using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// Reloads the configuration when kcp.yaml or a file of routes_dir changes: changes are collected until
/// <see cref="Debounce"/> has passed without another one (an editor's save is several events; a deploy writes many
/// files), then <see cref="RouteRegistry.ReloadAsync"/> runs once.
/// </summary>
/// <remarks>
/// Symbolic links are followed to what they name now, and the link itself is watched too: a Kubernetes ConfigMap
/// (<c>kcp.yaml -> ..data/kcp.yaml</c>, <c>..data</c> swapped to a new timestamped directory) and a routes_dir that
/// is a link swapped to a new release are both changes. Before every reload the links are resolved again, so the
/// directories watched are those the reload reads, and a directory no longer linked to (the old release) is no
/// longer watched.
/// </remarks>
internal sealed class ConfigWatcher : IDisposable
{
    /// <summary>Quiet time after the last change before the reload. The default value is 1 second.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromSeconds(1);

    // Linux's own limit of links followed in one path (MAXSYMLINKS).
    private const int MaxLinks = 40;

    private static readonly string[] RouteExtensions = [".yaml", ".yml", ".json"];

    private readonly RouteRegistry _registry;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly List<FileSystemWatcher> _watchers = [];

    // Directory -> the names watched in it (null: every name).
    private Dictionary<string, HashSet<string>?> _watched = new(StringComparer.Ordinal);
    private int _reloading;
    private bool _disposed;

    public ConfigWatcher(RouteRegistry registry, ILogger logger, TimeProvider time)
    {
        _registry = registry;
        _logger = logger;
        _timer = time.CreateTimer(_ => _ = ReloadAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Watch();
    }

    // Resolves the links again and watches what they name now; nothing changes when they name the same as before.
    private void Watch()
    {
        var config = _registry.Config;
        var links = new List<string>();
        var wanted = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal);
        void AddName(string path)
        {
            var directory = Path.GetDirectoryName(path);
            if (directory is null)
            {
                return;
            }

            if (!wanted.TryGetValue(directory, out var names))
            {
                wanted[directory] = names = new HashSet<string>(StringComparer.Ordinal);
            }

            names?.Add(Path.GetFileName(path));
        }

        string Follow(string path)
        {
            var (chain, target) = Resolve(path);
            foreach (var link in chain)
            {
                links.Add(link);
                AddName(link);
            }

            return target;
        }

        AddName(Follow(config.ConfigFile));
        var routesDir = Follow(config.RoutesDir);
        wanted[routesDir] = null;
        foreach (var file in RouteFiles(routesDir))
        {
            var target = Follow(file);
            if (!string.Equals(target, file, StringComparison.Ordinal))
            {
                AddName(target);
            }
        }

        lock (_gate)
        {
            if (_disposed || SameAs(wanted))
            {
                return;
            }

            foreach (var watcher in _watchers)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
            _watched = wanted;
            foreach (var (directory, names) in wanted)
            {
                Add(directory, names);
            }
        }

        Log.ReloadWatching(_logger, string.Join(", ", wanted.Keys.Order(StringComparer.Ordinal)),
            links.Count == 0 ? "none" : string.Join(", ", links.Distinct(StringComparer.Ordinal)));
    }

    private bool SameAs(Dictionary<string, HashSet<string>?> wanted) =>
        wanted.Count == _watched.Count && wanted.All(w => _watched.TryGetValue(w.Key, out var names)
            && (w.Value is null ? names is null : names is not null && w.Value.SetEquals(names)));

    private static IEnumerable<string> RouteFiles(string routesDir)
    {
        try
        {
            return [.. Directory.EnumerateFileSystemEntries(routesDir)
                .Where(f => !Path.GetFileName(f).StartsWith('.') && RouteExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// The symbolic links met while resolving <paramref name="path"/> (an absolute path), in order, and the path they
    /// lead to. A link that cannot be read counts as a plain entry; a loop ends after <see cref="MaxLinks"/> links.
    /// </summary>
    internal static (IReadOnlyList<string> Links, string Target) Resolve(string path)
    {
        var links = new List<string>();
        var pending = new Stack<string>(Parts(path).Reverse());
        var current = Path.GetPathRoot(path) ?? "/";
        while (pending.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            var next = Path.Join(current, part);
            string? target = null;
            if (links.Count < MaxLinks)
            {
                try
                {
                    target = new FileInfo(next).LinkTarget;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Not readable as a link: watched as it is.
                }
            }

            if (target is null)
            {
                current = next;
                continue;
            }

            links.Add(next);
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target) ?? "/";
            }

            foreach (var targetPart in Parts(target).Reverse())
            {
                pending.Push(targetPart);
            }
        }

        return (links, current);
    }

    private static string[] Parts(string path) => path.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);

    private void Add(string directory, HashSet<string>? names)
    {
        try
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            bool Watched(string? name) => names is null || (name is not null && names.Contains(name));
            watcher.Changed += (_, e) => Changed(Watched(e.Name));
            watcher.Created += (_, e) => Changed(Watched(e.Name));
            watcher.Deleted += (_, e) => Changed(Watched(e.Name));
            watcher.Renamed += (_, e) => Changed(Watched(e.Name) || Watched(e.OldName));
            watcher.Error += (_, e) => Log.ReloadWatchFailed(_logger, directory, e.GetException().Message);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            Log.ReloadWatchFailed(_logger, directory, ex.Message);
        }
    }

    private void Changed(bool watched = true)
    {
        if (!watched)
        {
            return;
        }

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
            // Before the files are read: a link swapped after this is seen by the new watches and reloads again.
            Watch();
            await _registry.ReloadAsync("files changed").ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A reload that throws must not end the watching; the error is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ReloadError(_logger, ex.Message.ReplaceLineEndings(" "));
        }
        finally
        {
            // kcp.yaml may name another routes_dir now.
            Watch();
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
