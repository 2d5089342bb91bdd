using System.Collections.Concurrent;
using System.Diagnostics;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// A process started by the benchmark, with its output kept (the last lines) for waiting on a line and for error
/// reports. Every child is registered so that <see cref="KillAll"/> can end them when the benchmark exits early.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private const int KeptLines = 400;
    private static readonly ConcurrentDictionary<int, ChildProcess> Running = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly StreamWriter? _log;
    private bool _logClosed;

    private ChildProcess(string name, Process process, string? logFile)
    {
        Name = name;
        _process = process;
        _log = logFile is null ? null : new StreamWriter(logFile, append: true) { AutoFlush = true };
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>CPU time so far (utime + stime, all threads), or the last known value's absence as zero once it is gone.</summary>
    public TimeSpan CpuTime => ProcFs.CpuTime(Id) ?? TimeSpan.Zero;

    /// <summary>Peak resident memory (VmHWM) in MiB, or null when the process is gone.</summary>
    public double? PeakMemoryMb => ProcFs.StatusKb(Id, "VmHWM") is { } kb ? kb / 1024.0 : null;

    /// <summary>Resident memory now (VmRSS) in MiB, or null when the process is gone.</summary>
    public double? MemoryMb => ProcFs.StatusKb(Id, "VmRSS") is { } kb ? kb / 1024.0 : null;

    /// <summary>Starts a process; with <paramref name="logFile"/>, every output line is also appended there.</summary>
    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string? workingDirectory = null, string? logFile = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The children log plain text; no colour codes in the kept lines.
        info.Environment["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "false";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, logFile);
        process.OutputDataReceived += (_, e) => child.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {name}: {fileName}");
        }

        Running[process.Id] = child;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs a command to completion within <paramref name="timeout"/>; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string name, string fileName, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var child = Start(name, fileName, arguments, workingDirectory, environment: environment);
        var exitCode = await child.WaitForExitAsync(timeout).ConfigureAwait(false);
        return (exitCode, child.Output());
    }

    /// <summary>Waits for the process to exit; kills it and throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{Name} did not finish within {timeout.TotalSeconds:F0} s; killed. Last output:\n{Output(30)}");
        }

        // The exit can be seen before the last output lines were read.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until an output line matches; throws when the process exits first or after <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var line = _lines.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                _process.WaitForExit();
                line = _lines.FirstOrDefault(match);
                return line ?? throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}. Last output:\n{Output(30)}");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{Name} printed no expected line within {timeout.TotalSeconds:F0} s. Last output:\n{Output(30)}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of output (stdout and stderr interleaved).</summary>
    public string Output(int lines = KeptLines) => string.Join('\n', _lines.TakeLast(lines));

    /// <summary>Kills the process and its descendants; safe to call when it has already exited.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Kills every child still running; for exit paths.</summary>
    public static void KillAll()
    {
        foreach (var child in Running.Values)
        {
            child.Kill();
        }
    }

    public void Dispose()
    {
        Kill();
        Running.TryRemove(new KeyValuePair<int, ChildProcess>(Id, this));
        _process.Dispose();
        lock (_lines)
        {
            _logClosed = true;
            _log?.Dispose();
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        lock (_lines)
        {
            if (!_logClosed)
            {
                _log?.WriteLine(line);
            }
        }

        while (_lines.Count > KeptLines && _lines.TryDequeue(out _))
        {
        }
    }
}
