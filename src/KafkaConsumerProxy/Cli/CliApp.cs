using System.CommandLine;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KafkaConsumerProxy.Cli;

/// <summary>The <c>kcp</c> command line: run, validate, demo.</summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("kcp: consumes Kafka topics with consumer groups and POSTs every message to an HTTP endpoint.")
        {
            RunCommand(),
            ValidateCommand(),
            DemoCommand.Create(),
            OffsetsCommand.Create(),
        };

        // The host handles SIGINT/SIGTERM itself; the parser must not cancel on them first.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await root.Parse(args).InvokeAsync(invocation).ConfigureAwait(false);
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
                return 2;
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
                return 2;
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
        ConfigureLogging(builder.Logging);
        builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o =>
        {
            var longest = config.Routes.Count == 0 ? 0 : config.Routes.Max(r => r.ExecTimeoutMs);
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(longest) + TimeSpan.FromSeconds(30);
        });
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ProxyMetrics>();
        builder.Services.AddSingleton<ManualSkipSignal>();
        builder.Services.AddHostedService<ProxyService>();
        extra?.Invoke(builder.Services);
        using var host = builder.Build();
        await host.RunAsync().ConfigureAwait(false);
    }

    internal static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
    }
}
