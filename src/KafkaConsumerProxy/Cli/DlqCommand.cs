using System.CommandLine;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp dlq replay ROUTE</c>: delivers a route's dead-letter messages to its endpoint again, from this process (no
/// running kcp needed). SIGINT/SIGTERM end it after the message in flight, committing what was replayed. Exit codes
/// (<see cref="CliApp"/>): 0 done; 2 invalid arguments or configuration; 3 some message failed again; 4 no such route,
/// or the route has no dead-letter topic.
/// </summary>
internal static class DlqCommand
{
    /// <summary>Exit code of a replay in which some message failed again (it stays in the dead-letter topic).</summary>
    public const int FailedAgain = 3;

    public static Command Create() => new("dlq", "Work with a route's dead-letter topic")
    {
        Replay(),
    };

    private static Command Replay()
    {
        var config = CliApp.ConfigOption();
        var partition = new Option<int?>("--partition") { Description = "Only this partition of the dead-letter topic", CustomParser = r => CliApp.WholeNumber(r, 0, int.MaxValue) };
        var fromOffset = new Option<long?>("--from-offset") { Description = "Start at this dead-letter offset (default: where the last replay stopped, else the beginning)", CustomParser = r => CliApp.WholeNumber(r, 0, long.MaxValue) };
        var fromTime = new Option<DateTimeOffset?>("--from-time") { Description = "Only messages dead-lettered at or after this time, e.g. 2026-11-24T10:00:00Z", CustomParser = r => ParseTime(r, "--from-time") };
        var toTime = new Option<DateTimeOffset?>("--to-time") { Description = "Only messages dead-lettered at or before this time (default: up to the end as it is now)", CustomParser = r => ParseTime(r, "--to-time") };
        var rate = new Option<int?>("--rate") { Description = "At most this many requests per second (default: the route's max_requests_per_second)", CustomParser = r => CliApp.WholeNumber(r, 1, RouteDefaults.MaxRequestsPerSecondLimit) };
        var dryRun = new Option<bool>("--dry-run") { Description = "List the messages that would be replayed; deliver and commit nothing" };
        var command = new Command("replay", "Deliver a route's dead-letter messages to its endpoint again, in group {group}.dlq-replay, with X-Kafka-Replay: true")
        {
            config, partition, fromOffset, fromTime, toTime, rate, dryRun,
        };
        var route = CliApp.RouteArguments(command, "The route's name (its file name without extension)");
        command.Validators.Add(result =>
        {
            if (result.GetValue(route.Argument) is null && result.GetValue(route.Option) is null)
            {
                result.AddError("name the route: kcp dlq replay ROUTE");
            }

            // Whether options were given, not their values: reading a value that did not parse throws. Ranges are
            // checked by the options' parsers, the order of the two times by the action.
            if (result.GetResult(fromOffset) is not null && result.GetResult(fromTime) is not null)
            {
                result.AddError("give at most one of --from-offset and --from-time");
            }
        });
        command.SetAction(async (parse, stop) =>
        {
            // An empty range would move the replay group past every message while replaying none.
            if (parse.GetValue(fromTime) is { } from && parse.GetValue(toTime) is { } to && from > to)
            {
                Console.Error.WriteLine($"kcp dlq replay: --from-time {Given(parse, fromTime)} is after --to-time {Given(parse, toTime)}; nothing would be replayed");
                return CliApp.ConfigError;
            }

            if (CliApp.ConfigFile(parse, config) is not { } configFile)
            {
                return CliApp.ConfigError;
            }

            var loaded = ConfigLoader.Load(configFile.FullName);
            var name = CliApp.RouteName(parse, route)!;
            var chosen = loaded.Routes.FirstOrDefault(r => r.Name == name);
            if (chosen is null)
            {
                Console.Error.WriteLine($"kcp dlq replay: '{name}' is not a route of {loaded.ConfigFile}; routes: {string.Join(", ", loaded.Routes.Select(r => r.Name))}");
                return CliApp.Refused;
            }

            if (!chosen.DeadLetter.Enabled)
            {
                Console.Error.WriteLine($"kcp dlq replay: route '{name}' has no dead_letter_topic ({chosen.SourceFile})");
                return CliApp.Refused;
            }

            using var loggers = LoggerFactory.Create(b => CliApp.ConfigureLogging(b, loaded.Logging));
            // The process's clock: the CLI is where it is chosen.
            var replay = new DeadLetterReplay(loaded, chosen, Console.Out.WriteLine, loggers.CreateLogger("kcp.dlq-replay"), TimeProvider.System);
            var range = new ReplayRange(parse.GetValue(partition), parse.GetValue(fromOffset), parse.GetValue(fromTime), parse.GetValue(toTime), parse.GetValue(rate), parse.GetValue(dryRun));
            ReplaySummary summary;
            try
            {
                summary = await replay.RunAsync(range, stop).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"kcp dlq replay: {ex.Message}");
                return CliApp.ConfigError;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Each replayed message is committed as it is done.
                Console.Error.WriteLine("kcp dlq replay: stopped by a signal; what was replayed is committed, the next replay goes on from there");
                return CliApp.Interrupted;
            }

            return summary.FailedAgain > 0 ? FailedAgain : 0;
        });
        return command;
    }

    private static string Given(ParseResult parse, Option option) => parse.GetResult(option)?.Tokens.FirstOrDefault()?.Value ?? "";

    /// <summary>An ISO 8601 date and time with its offset, as <c>kcp offsets set --to-time</c> takes it.</summary>
    internal static DateTimeOffset? ParseTime(System.CommandLine.Parsing.ArgumentResult result, string option)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        string[] formats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK"];
        if (text.Length > 0 && (text[^1] is 'Z' or 'z' || text.LastIndexOfAny(['+', '-']) > 10)
            && DateTimeOffset.TryParseExact(text, formats, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var at))
        {
            return at;
        }

        result.AddError($"{option} '{text}' is not a date and time with offset; give an ISO 8601 time such as 2026-11-24T10:00:00Z or 2026-11-24T11:00:00+01:00");
        return null;
    }
}
