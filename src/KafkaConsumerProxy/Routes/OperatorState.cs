using System.Text.Json;
using System.Text.Json.Serialization;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// The operator's pauses and stops, kept in <c>{state_dir}/routes.json</c> so that they survive a restart of kcp:
/// <c>{"routes": {"orders": {"paused": true, "stopped": false}}}</c>. Written whole to a temporary file, flushed to
/// disk, then renamed over the old one, so a crash leaves either the old or the new content.
/// </summary>
internal sealed class OperatorState
{
    /// <summary>The file name under state_dir.</summary>
    public const string FileName = "routes.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly Dictionary<string, Entry> _routes;

    public OperatorState(string stateDir, ILogger logger)
    {
        Path = System.IO.Path.Combine(stateDir, FileName);
        _logger = logger;
        _routes = Read(Path, logger);
    }

    public string Path { get; }

    /// <summary>What the operator left for <paramref name="route"/>.</summary>
    public (bool Paused, bool Stopped) Get(string route)
    {
        lock (_gate)
        {
            return _routes.TryGetValue(route, out var e) ? (e.Paused, e.Stopped) : (false, false);
        }
    }

    /// <summary>Records the operator's state of <paramref name="route"/>; (false, false) removes it.</summary>
    public void Set(string route, bool paused, bool stopped)
    {
        lock (_gate)
        {
            var before = _routes.TryGetValue(route, out var old) ? old : null;
            if (before is not null && before.Paused == paused && before.Stopped == stopped)
            {
                return;
            }

            if (!paused && !stopped)
            {
                if (before is null)
                {
                    return;
                }

                _routes.Remove(route);
            }
            else
            {
                _routes[route] = new Entry { Paused = paused, Stopped = stopped };
            }

            Write();
        }
    }

    /// <summary>Forgets routes that no longer exist (removed by a reload).</summary>
    public void Forget(string route)
    {
        lock (_gate)
        {
            if (_routes.Remove(route))
            {
                Write();
            }
        }
    }

    private void Write()
    {
        // Per process: kcp processes sharing a state_dir must not write into each other's temporary file.
        var temp = $"{Path}.{Environment.ProcessId}.tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = PrivateFile.Mode;
            }

            using (var file = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(file, new Document { Routes = new SortedDictionary<string, Entry>(_routes, StringComparer.Ordinal) }, Json);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.OperatorStateWriteFailed(_logger, Path, ex.Message);
            try
            {
                File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do; the next write replaces it.
            }
        }
    }

    private static Dictionary<string, Entry> Read(string path, ILogger logger)
    {
        try
        {
            if (!File.Exists(path))
            {
                return new Dictionary<string, Entry>(StringComparer.Ordinal);
            }

            var document = JsonSerializer.Deserialize<Document>(File.ReadAllText(path), Json);
            return new Dictionary<string, Entry>(document?.Routes ?? new Dictionary<string, Entry>(), StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            // A damaged file must not keep kcp from starting; the routes then run, which the log says.
            Log.OperatorStateUnreadable(logger, path, ex.Message);
            return new Dictionary<string, Entry>(StringComparer.Ordinal);
        }
    }

    private sealed class Document
    {
        public IDictionary<string, Entry> Routes { get; init; } = new Dictionary<string, Entry>();
    }

    private sealed record Entry
    {
        [JsonPropertyName("paused")]
        public bool Paused { get; init; }

        [JsonPropertyName("stopped")]
        public bool Stopped { get; init; }
    }
}
