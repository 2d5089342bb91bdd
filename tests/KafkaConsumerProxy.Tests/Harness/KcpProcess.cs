using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// The real <c>kcp</c> executable as a child process (<c>dotnet kcp.dll ...</c>), with its stdout and stderr lines
/// captured, for what only a separate process shows: exit codes, POSIX signals, what reaches the terminal.
/// Disposing kills it (SIGKILL) if it is still running.
/// </summary>
public sealed partial class KcpProcess : IAsyncDisposable
{
    /// <summary>Linux signal numbers.</summary>
    public const int SigHup = 1, SigInt = 2, SigUsr1 = 10, SigTerm = 15;

    // GNU coreutils' env (--default-signal since 8.31).
    private const string EnvCommand = "/usr/bin/env";

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<string> _output = [];
    private TaskCompletionSource _changed = NewSignal();

    private KcpProcess(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        // Through env, which resets every signal's handling to the default and then runs dotnet in the same process:
        // kcp starts as from a terminal whatever started the tests. A command run in the background by a shell without
        // job control (`dotnet test &` in a script) starts with SIGINT and SIGQUIT ignored, a child inherits that, and
        // .NET keeps a signal ignored that was ignored when it started (no handler of kcp's runs): SIGINT would not stop kcp.
        var start = new ProcessStartInfo(EnvCommand)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            // Not above the temporary config directories, so that error messages show their absolute paths.
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        start.ArgumentList.Add("--default-signal");
        start.ArgumentList.Add(DotnetHost());
        start.ArgumentList.Add(KcpDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The test host's settings must not change how kcp runs (e.g. a forced environment name or startup hooks).
        start.Environment.Remove("DOTNET_STARTUP_HOOKS");
        // A null value removes the variable.
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }

        Arguments = string.Join(' ', args);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, _stdout);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, _stderr);
        _process.Exited += (_, _) => Signal();
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The arguments after <c>kcp</c>, for messages.</summary>
    public string Arguments { get; }

    /// <summary>The child's process id (env runs the <c>dotnet</c> host, which runs kcp, in that same process).</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Lines written to stdout so far.</summary>
    public IReadOnlyList<string> StdOut => Snapshot(_stdout);

    /// <summary>Lines written to stderr so far.</summary>
    public IReadOnlyList<string> StdErr => Snapshot(_stderr);

    /// <summary>Lines of both streams so far, in the order they were read.</summary>
    public IReadOnlyList<string> Output => Snapshot(_output);

    /// <summary>Starts <c>kcp run --config <paramref name="configFile"/></c>.</summary>
    public static KcpProcess Run(string configFile) => Start("run", "--config", configFile);

    /// <summary>Starts <c>kcp run --config <paramref name="configFile"/></c> with these environment variables set (null removes one).</summary>
    public static KcpProcess Run(string configFile, IReadOnlyDictionary<string, string?> environment) => new(["run", "--config", configFile], environment);

    /// <summary>Starts <c>kcp validate --config <paramref name="configFile"/></c>.</summary>
    public static KcpProcess Validate(string configFile) => Start("validate", "--config", configFile);

    /// <summary>Starts <c>kcp</c> with <paramref name="args"/>.</summary>
    public static KcpProcess Start(params string[] args) => new(args);

    /// <summary>
    /// Starts <c>kcp</c> with <paramref name="args"/>, these environment variables set (null removes one) and, when
    /// given, in <paramref name="workingDirectory"/>.
    /// </summary>
    public static KcpProcess Start(IReadOnlyDictionary<string, string?> environment, string? workingDirectory, params string[] args) =>
        new(args, environment, workingDirectory);

    /// <summary>Sends <paramref name="signal"/> (e.g. <see cref="SigTerm"/>) to the process.</summary>
    public void SendSignal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"kill({_process.Id}, {signal}) failed");
        }
    }

    /// <summary>Waits for the process to exit (and its output to be read); returns the exit code.</summary>
    /// <exception cref="TimeoutException">Still running after <paramref name="timeout"/>; the output so far is in the message.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"kcp {Arguments} still running after {timeout.TotalSeconds:0.#} s; {Tail()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits for an output line (stdout or stderr) containing <paramref name="text"/>; returns that line.</summary>
    /// <exception cref="TimeoutException">No such line within <paramref name="timeout"/>, or the process exited without writing one.</exception>
    public Task<string> WaitForOutputAsync(string text, TimeSpan timeout) =>
        WaitForOutputAsync(l => l.Contains(text, StringComparison.Ordinal), $"a line containing '{text}'", timeout);

    /// <summary>Waits for an output line matching <paramref name="predicate"/>; returns that line.</summary>
    public async Task<string> WaitForOutputAsync(Func<string, bool> predicate, string description, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            bool exited;
            lock (_gate)
            {
                changed = _changed.Task;
                if (_output.Find(l => predicate(l)) is { } line)
                {
                    return line;
                }

                exited = _process.HasExited;
            }

            if (exited)
            {
                // Exited is raised before the last lines are read; only once both streams ended is the output complete.
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
                if (Output.FirstOrDefault(predicate) is { } last)
                {
                    return last;
                }

                throw new TimeoutException($"kcp {Arguments} exited with {_process.ExitCode} without {description}; {Tail()}");
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {description} from kcp {Arguments} within {timeout.TotalSeconds:0.#} s; {Tail()}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }

        if (Environment.GetEnvironmentVariable("KCP_TEST_LOGS") is { Length: > 0 } logFile)
        {
            await File.AppendAllLinesAsync(logFile, Output.Prepend($"--- kcp {Arguments} (pid {_process.Id})"));
        }

        _process.Dispose();
    }

    /// <summary>The last output lines, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        var output = Output;
        return $"{output.Count} output line(s)" + (output.Count > lines ? $", last {lines}" : "") + ":\n"
            + string.Join('\n', output.Skip(Math.Max(0, output.Count - lines)));
    }

    // The test project references src/KafkaConsumerProxy, so its build output (kcp.dll, kcp.runtimeconfig.json,
    // kcp.deps.json) is copied next to the test assembly, wherever --artifacts-path puts that.
    private static string KcpDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "kcp.dll");
        var runtimeConfig = Path.Combine(AppContext.BaseDirectory, "kcp.runtimeconfig.json");
        if (!File.Exists(dll) || !File.Exists(runtimeConfig))
        {
            throw new FileNotFoundException($"kcp.dll and kcp.runtimeconfig.json must be in the test output directory {AppContext.BaseDirectory}; is the project reference to src/KafkaConsumerProxy missing?", dll);
        }

        return dll;
    }

    // The same dotnet that runs the tests: the SDK exports DOTNET_HOST_PATH to test runs, and the test host
    // itself usually is that executable.
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return "dotnet";
    }

    private void OnLine(string? line, List<string> stream)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            stream.Add(line);
            _output.Add(line);
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    private IReadOnlyList<string> Snapshot(List<string> lines)
    {
        lock (_gate)
        {
            return [.. lines];
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
