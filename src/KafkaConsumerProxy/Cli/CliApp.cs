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
/// The <c>kcp</c> command line: run, validate, demo, offsets, routes, reload. Exit codes: 0 success (for <c>run</c>:
/// a clean stop on a signal; a failing route never ends the process); 1 an environment failure (something the
/// configuration cannot fix: a directory that cannot be created at run time, an
/// unreachable cluster in <c>kcp offsets</c>, no running kcp for <c>kcp routes</c>, an unexpected error); 2 invalid
/// configuration or invalid command-line arguments. Every
/// failure is reported in one line (a configuration's errors one per line), never as a stack trace.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a configuration or argument error.</summary>
    public const int ConfigError = 2;

    /// <summary>Exit code of a failure of the environment, or of anything unexpected.</summary>
    public const int EnvironmentError = ProxyService.StartFailedExitCode;

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

        // The host handles SIGINT/SIGTERM itself; the parser must not cancel on them first. Exceptions reach the
        // handler below instead of System.CommandLine's, which prints the stack trace.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
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

    internal static Option<FileInfo> ConfigOption() => new("--config", "-c")
    {
        Description = "The kcp.yaml file",
        Required = true,
    };

    private static Command RunCommand()
    {
        var config = ConfigOption();
        var command = new Command("run", "Validate the configuration, then consume every route until SIGTERM/SIGINT") { config };
        command.SetAction(async (parse, _) =>
        {
            var loaded = LoadOrReport(parse.GetRequiredValue(config));
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
        var command = new Command("validate", "Check kcp.yaml and every route file; print all errors") { config };
        command.SetAction(parse =>
        {
            var loaded = LoadOrReport(parse.GetRequiredValue(config));
            if (loaded is null)
            {
                return ConfigError;
            }

            Console.Out.WriteLine($"{loaded.ConfigFile}: OK, {loaded.Routes.Count} route(s): {string.Join(", ", loaded.Routes.Select(r => r.Name))}");
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
