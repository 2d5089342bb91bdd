using System.CommandLine;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// The <c>kcp</c> command line: run, validate, demo, offsets, routes, status, skip, reload, dlq. Exit codes (the table
/// of docs/CLI.md): 0 success (for <c>run</c>: a clean stop on a signal; a failing route never ends the process);
/// 1 an environment failure (something the configuration cannot fix: a directory that cannot be created at run time, an
/// admin address taken, an unreachable cluster in <c>kcp offsets</c>, no running kcp or one that refused access, an
/// unexpected error); 2 invalid command-line arguments or an invalid configuration, and nothing else; 3 <c>kcp dlq
/// replay</c>: some message failed again; 4 the running kcp (or the configuration, for the offline commands) has no
/// such route, nothing matches the selection, or the message is not being retried now; 130 <c>demo</c> or
/// <c>dlq replay</c> stopped by SIGINT/SIGTERM before it was done. Every failure is reported in
/// one line (a configuration's errors one per line), never as a stack trace.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a configuration or argument error.</summary>
    public const int ConfigError = 2;

    /// <summary>Exit code of a failure of the environment, or of anything unexpected.</summary>
    public const int EnvironmentError = ProxyService.StartFailedExitCode;

    /// <summary>Exit code of a request refused for what it names: no such route, no match, a message not failing now.</summary>
    public const int Refused = 4;

    /// <summary>Exit code of a command stopped by SIGINT or SIGTERM before it was done (<c>demo</c>, <c>dlq replay</c>): 128 + SIGINT.</summary>
    public const int Interrupted = 130;

    /// <summary>The environment variable naming the configuration file when <c>--config</c> is not given.</summary>
    public const string ConfigVariable = "KCP_CONFIG";

    // --log-format and --log-level as given on the command line; null: not given (kcp.yaml's logging, else the default).
    private static string? s_logFormat;
    private static string? s_logLevel;

    public static async Task<int> RunAsync(string[] args)
    {
        // The last line of defence for an exception on a thread of its own: one line and exit 1, not a core dump.
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            Console.Error.WriteLine($"kcp: unexpected error: {OneLine(e.ExceptionObject as Exception)}");
            Environment.Exit(EnvironmentError);
        };

        var root = new RootCommand("kcp: consumes Kafka topics with consumer groups and POSTs every message to an HTTP endpoint.")
        {
            RunCommand(),
            ValidateCommand(),
            SchemaCommand.Create(),
            InitCommand.Create(),
            DemoCommand.Create(),
            OffsetsCommand.Create(),
            RoutesCommand.Create(),
            RoutesCommand.ReloadCommand(),
            StatusCommand.Create(),
            StatusCommand.SkipCommand(),
            DlqCommand.Create(),
            ReplayCommand.Create(),
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "Log lines as text (one line per event) or json (one JSON object per line); default: logging.format in kcp.yaml, else text",
            Recursive = true,
            HelpName = "text|json",
        };
        var logLevel = new Option<string>("--log-level")
        {
            Description = "The least severe level logged: trace, debug, information, warning, error or critical; default: logging.level in kcp.yaml, else information",
            Recursive = true,
            HelpName = "level",
        };
        foreach (var (option, choices) in new[] { (logFormat, LoggingSettings.Formats), (logLevel, LoggingSettings.Levels) })
        {
            // One line, as every other argument error; the parser's own message lists the choices one per line.
            option.Validators.Add(result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (!choices.Contains(text, StringComparer.OrdinalIgnoreCase))
                    result.AddError($"{option.Name} '{text}' must be one of: {string.Join(", ", choices)}");
            });
            root.Options.Add(option);
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line per error; the last one says where the arguments are described.
            var command = string.Join(' ', CommandPath(parse.CommandResult).Prepend("kcp"));
            for (var i = 0; i < parse.Errors.Count; i++)
            {
                var hint = i == parse.Errors.Count - 1 ? $" (see '{command} --help')" : "";
                Console.Error.WriteLine($"{command}: {parse.Errors[i].Message.TrimEnd('.')}{hint}");
            }

            return ConfigError;
        }

        (s_logFormat, s_logLevel) = (parse.GetValue(logFormat)?.ToLowerInvariant(), parse.GetValue(logLevel)?.ToLowerInvariant());

        // `run` (the host) and `demo` handle SIGINT/SIGTERM themselves; the parser must not cancel on them first. Every
        // other command is cancelled by them (its token) and given some seconds to end cleanly (a replay commits what it
        // delivered). Exceptions reach the handler below instead of System.CommandLine's, which prints the stack trace.
        var ownSignals = parse.CommandResult.Command.Name is "run" or "demo";
        var invocation = new InvocationConfiguration
        {
            ProcessTerminationTimeout = ownSignals ? null : TimeSpan.FromSeconds(30),
            EnableDefaultExceptionHandler = false,
        };
        try
        {
            return await parse.InvokeAsync(invocation).ConfigureAwait(false);
        }
        catch (ConfigException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return ConfigError;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"kcp: {OneLine(ex)}");
            return EnvironmentError;
        }
    }

    /// <summary>An exception as one line: its type and message, inner exceptions' messages after ' -> '.</summary>
    internal static string OneLine(Exception? ex)
    {
        if (ex is null)
        {
            return "unknown error";
        }

        var text = $"{ex.GetType().Name}: {ex.Message}";
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += $" -> {inner.Message}";
        }

        return text.ReplaceLineEndings(" ");
    }

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? command)
    {
        var names = new Stack<string>();
        for (var current = command; current?.Parent is System.CommandLine.Parsing.CommandResult parent; current = parent)
        {
            names.Push(current.Command.Name);
        }

        return names;
    }

    /// <summary>
    /// Parses an option's whole number from <paramref name="min"/> to <paramref name="max"/>. Any other value is a parse
    /// error naming the option and the value (exit 2); the parser's own error cannot be used, because a validator that
    /// reads an option whose value did not parse throws instead of reporting it.
    /// </summary>
    internal static T? WholeNumber<T>(System.CommandLine.Parsing.ArgumentResult result, T min, T max)
        where T : struct, System.Numerics.IBinaryInteger<T>, System.Numerics.IMinMaxValue<T>
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (T.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        var name = result.Parent is System.CommandLine.Parsing.OptionResult option ? option.Option.Name : result.Argument.Name;
        var range = max == T.MaxValue ? $"of at least {min}" : $"from {min} to {max}";
        result.AddError(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name} '{text}' is not a whole number {range}"));
        return null;
    }

    /// <summary>
    /// <c>--config</c>: the kcp.yaml file; when not given, <c>$KCP_CONFIG</c>, else <c>kcp.yaml</c> in the current
    /// directory. Read it with <see cref="ConfigFile"/>, which explains a default that names no file.
    /// </summary>
    internal static Option<FileInfo> ConfigOption() => new("--config", "-c")
    {
        Description = $"The kcp.yaml file (default: ${ConfigVariable}, else ./kcp.yaml)",
        HelpName = "FILE",
        DefaultValueFactory = _ => new FileInfo(Environment.GetEnvironmentVariable(ConfigVariable) is { Length: > 0 } named ? named : "kcp.yaml"),
    };

    /// <summary>
    /// The configuration file of <paramref name="option"/>; null (after one line on stderr) when it was not given and the
    /// default names no file, so the operator learns where kcp looked and why.
    /// </summary>
    internal static FileInfo? ConfigFile(ParseResult parse, Option<FileInfo> option)
    {
        var file = parse.GetRequiredValue(option);
        if (file.Exists || parse.GetResult(option) is { Implicit: false })
        {
            return file;
        }

        Console.Error.WriteLine(Environment.GetEnvironmentVariable(ConfigVariable) is { Length: > 0 } named
            ? $"kcp: {file.FullName}: config file not found (named by ${ConfigVariable}='{named}'; give --config FILE to use another)"
            : $"kcp: {file.FullName}: config file not found (no --config given and ${ConfigVariable} not set, so kcp looked for kcp.yaml in the current directory; give --config FILE or set ${ConfigVariable})");
        return null;
    }

    /// <summary><c>--json</c>: the command's answer as JSON on stdout (the API's JSON for the commands that ask a running kcp).</summary>
    internal static Option<bool> JsonOption() => new("--json") { Description = "Print the answer as JSON (as the /api/v1 API gives it)" };

    /// <summary>
    /// The route named as the first argument, as every command takes it, and <c>--route</c>/<c>-r</c>, the hidden form
    /// older scripts use; one of the two must be given (see <see cref="RouteName"/>).
    /// </summary>
    internal static (Argument<string?> Argument, Option<string?> Option) RouteArguments(Command command, string description)
    {
        var argument = new Argument<string?>("route") { Description = description, Arity = ArgumentArity.ZeroOrOne };
        var option = new Option<string?>("--route", "-r") { Description = "The route (older form of the first argument)", Hidden = true };
        command.Arguments.Add(argument);
        command.Options.Add(option);
        return (argument, option);
    }

    /// <summary>The route of <see cref="RouteArguments"/>: <c>--route</c> when given, else the argument.</summary>
    internal static string? RouteName(ParseResult parse, (Argument<string?> Argument, Option<string?> Option) route) =>
        parse.GetValue(route.Option) ?? parse.GetValue(route.Argument);

    private static Command RunCommand()
    {
        var config = ConfigOption();
        var command = new Command("run", "Validate the configuration, then consume every route until SIGTERM/SIGINT; SIGHUP reloads it") { config };
        command.SetAction(async (parse, _) =>
        {
            var loaded = ConfigFile(parse, config) is { } file ? LoadOrReport(file) : null;
            if (loaded is null)
            {
                return ConfigError;
            }

            await RunHostAsync(loaded).ConfigureAwait(false);
            return Environment.ExitCode;
        });
        return command;
    }

    private static Command ValidateCommand()
    {
        var config = ConfigOption();
        var json = JsonOption();
        var command = new Command("validate", "Check kcp.yaml and every route file; print all errors") { config, json };
        command.SetAction(parse =>
        {
            if (ConfigFile(parse, config) is not { } file)
            {
                return ConfigError;
            }

            if (parse.GetValue(json))
            {
                // Errors as data on stdout: {"valid": false, "errors": [{"file", "key", "message", "text"}]}; the value only in
                // the text, where it is shown as kcp validate shows it (escaped, cut).
                var (checkedConfig, errors) = ConfigLoader.TryLoad(file.FullName);
                var answer = new ValidateAnswer(checkedConfig is not null, file.FullName, checkedConfig?.Routes.Select(r => r.Name).ToList() ?? [],
                    [.. errors.Select(e => new ValidateError(e.File, e.Key, e.Message, e.ToString()))],
                    [.. checkedConfig?.Routes.SelectMany(DefaultNotes.Of) ?? []]);
                Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(answer, Admin.ControlJson.Options));
                return answer.Valid ? 0 : ConfigError;
            }

            var loaded = LoadOrReport(file);
            if (loaded is null)
            {
                return ConfigError;
            }

            Console.Out.WriteLine($"{loaded.ConfigFile}: OK, {loaded.Routes.Count} route(s): {string.Join(", ", loaded.Routes.Select(r => r.Name))}");
            foreach (var note in loaded.Routes.SelectMany(DefaultNotes.Of))
            {
                Console.Out.WriteLine($"  {note}");
            }

            return 0;
        });
        return command;
    }

    private static KcpConfig? LoadOrReport(FileInfo file)
    {
        try
        {
            return ConfigLoader.Load(file.FullName);
        }
        catch (ConfigException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return null;
        }
    }

    /// <summary>Runs the proxy under the generic host until a stop signal.</summary>
    internal static async Task RunHostAsync(KcpConfig config, Action<IServiceCollection>? extra = null)
    {
        // Before the host opens any socket: the runtime reads it once, at the first.
        var fromEnvironment = SocketCompletionMode.Apply(config);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ConfigureLogging(builder.Logging, config.Logging);
        builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // The drain is bounded by shutdown_timeout_ms (requests in flight are cancelled after it); then the final
        // commits and leaving the groups. The host waits that long and a little more.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.LongestStop + TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(config);
        // The process's clock, given to every kcp type: the composition root is where it is chosen.
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ProxyMetrics>();
        builder.Services.AddSingleton<ManualSkipSignal>();
        builder.Services.AddHostedService<ProxyService>();
        extra?.Invoke(builder.Services);
        using var host = builder.Build();
        SocketCompletionMode.Report(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("kcp"), config, fromEnvironment);
        await host.RunAsync().ConfigureAwait(false);
    }

    /// <summary>The console log as the command line (<c>--log-format</c>, <c>--log-level</c>) says, else the defaults.</summary>
    internal static void ConfigureLogging(ILoggingBuilder logging) => ConfigureLogging(logging, LoggingSettings.Default);

    /// <summary>
    /// The console log as the command line says, else as <paramref name="configured"/> (kcp.yaml's <c>logging</c>) says:
    /// kcp's text lines (<see cref="LogLineFormatter"/>) or Microsoft.Extensions.Logging.Console's JSON lines (UTC
    /// timestamp, event id, level, category, message, and the logged values under <c>State</c>).
    /// </summary>
    internal static void ConfigureLogging(ILoggingBuilder logging, LoggingSettings configured)
    {
        var settings = configured with { Format = s_logFormat ?? configured.Format, Level = s_logLevel ?? configured.Level };
        var level = Enum.Parse<LogLevel>(settings.Level, ignoreCase: true);
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        // The framework's own lines (Kestrel, the host) only from warning on, unless a less verbose level is asked.
        logging.AddFilter("Microsoft", level > LogLevel.Warning ? level : LogLevel.Warning);
        if (settings.Json)
        {
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = false;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        else
        {
            // Log lines carry the real time, to be read beside other systems' logs.
            logging.Services.AddSingleton<ConsoleFormatter>(new LogLineFormatter(TimeProvider.System));
            logging.AddConsole(o => o.FormatterName = LogLineFormatter.FormatterName);
        }
    }
}

/// <summary>The answer of <c>kcp validate --json</c>.</summary>
/// <remarks><c>Notes</c>: one line per default a route relies on without writing it (<see cref="DefaultNotes"/>).</remarks>
internal sealed record ValidateAnswer(bool Valid, string ConfigFile, IReadOnlyList<string> Routes, IReadOnlyList<ValidateError> Errors, IReadOnlyList<string> Notes);

/// <summary>One error of <c>kcp validate --json</c>: its parts, and the line <c>kcp validate</c> prints for it.</summary>
internal sealed record ValidateError(string File, string? Key, string Message, string Text);
