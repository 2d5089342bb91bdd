using System.CommandLine;
using System.Globalization;
using Confluent.Kafka;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp offsets show|set ROUTE</c>: inspect and reset a route's committed offsets and local records, straight on the
/// cluster and state_dir of the configuration (no running kcp needed; <c>set</c> needs the group to have no members).
/// The running kcp's counterparts are <c>kcp status ROUTE</c> and the API's seek. Exit codes (<see cref="CliApp"/>):
/// 0 done; 1 the cluster could not be reached or refused; 2 invalid arguments or configuration; 4 no such route.
/// </summary>
internal static class OffsetsCommand
{
    public static Command Create() => new("offsets", "Inspect or set a route's committed offsets and local offset records")
    {
        Show(),
        Set(),
    };

    private const string RouteDescription = "The route's name (its file name without extension)";

    /// <summary>The route is required, as the argument or as the older --route.</summary>
    private static void RequireRoute(Command command, (Argument<string?> Argument, Option<string?> Option) route) =>
        command.Validators.Add(result =>
        {
            if (result.GetValue(route.Argument) is null && result.GetValue(route.Option) is null)
            {
                result.AddError("name the route: kcp " + command.Parents.OfType<Command>().First().Name + " " + command.Name + " ROUTE");
            }
        });

    private static Command Show()
    {
        var config = CliApp.ConfigOption();
        var json = CliApp.JsonOption();
        var command = new Command("show", "Per partition: committed offset, local record, log end, lag") { config, json };
        var route = CliApp.RouteArguments(command, RouteDescription);
        RequireRoute(command, route);
        command.SetAction(async (parse, _) =>
        {
            return await WithToolAsync(parse, config, CliApp.RouteName(parse, route)!, async tool =>
            {
                var rows = await tool.ShowAsync().ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    var answer = new OffsetsAnswer(tool.Route.Name, tool.Route.Topic, tool.Route.Group, tool.Route.Cluster, tool.ClusterId,
                        [.. rows.Select(r => new OffsetsRow(r.Partition, r.Committed, r.LocalLastDone, r.LogStart, r.LogEnd, r.Lag, r.LocalLastDone is null ? null : r.LocalClusterId, Note(r)))],
                        rows.Sum(r => r.Lag));
                    Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(answer, ControlJson.Options));
                    return 0;
                }

                Console.Out.WriteLine($"route {tool.Route.Name}: topic {tool.Route.Topic}, group {tool.Route.Group}, cluster {tool.Route.Cluster} (cluster id {tool.ClusterId ?? "unknown"})");
                Console.Out.WriteLine($"{"partition",9}  {"committed",12}  {"local last done",15}  {"log start",12}  {"log end",12}  {"lag",10}  {"record cluster id",-24}  note");
                foreach (var row in rows)
                {
                    Console.Out.WriteLine($"{row.Partition,9}  {Text(row.Committed),12}  {Text(row.LocalLastDone),15}  {row.LogStart,12}  {row.LogEnd,12}  {row.Lag,10}  {(row.LocalLastDone is null ? "-" : row.LocalClusterId ?? "unknown"),-24}  {Note(row)}");
                }

                Console.Out.WriteLine($"{"total",9}  {"",12}  {"",15}  {"",12}  {"",12}  {rows.Sum(r => r.Lag),10}");
                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Set()
    {
        var config = CliApp.ConfigOption();
        var offsets = new Argument<string[]>("PARTITION:OFFSET") { Description = "Offsets to set, e.g. 0:100 1:250", Arity = ArgumentArity.ZeroOrMore };
        var earliest = new Option<bool>("--to-earliest") { Description = "Every partition to its first available offset" };
        var latest = new Option<bool>("--to-latest") { Description = "Every partition to its end (skip everything not yet consumed)" };
        var time = new Option<DateTimeOffset?>("--to-time")
        {
            Description = "Every partition to its first message at or after this time, e.g. 2026-11-24T10:00:00Z",
            CustomParser = ParseTime,
        };
        var force = new Option<bool>("--force") { Description = "Set offsets outside the partition's log (below its low or above its high watermark) too, saying what the next run does with them" };
        var command = new Command("set", "Set the group's committed offsets (the group must have no active members) and the local records") { config };
        var route = CliApp.RouteArguments(command, RouteDescription);
        command.Arguments.Add(offsets);
        foreach (var option in new Option[] { earliest, latest, time, force })
        {
            command.Options.Add(option);
        }

        RequireRoute(command, route);
        // With the older --route, the first PARTITION:OFFSET is parsed as the route argument.
        string[] Pairs(ParseResult parse) => parse.GetValue(route.Option) is not null && parse.GetValue(route.Argument) is { } first
            ? [first, .. parse.GetValue(offsets) ?? []]
            : parse.GetValue(offsets) ?? [];
        command.Validators.Add(result =>
        {
            var pairs = (result.GetValue(offsets)?.Length > 0 || (result.GetValue(route.Option) is not null && result.GetValue(route.Argument) is not null)) ? 1 : 0;
            // Whether --to-time was given, not its value: a value that did not parse is reported by ParseTime.
            var chosen = pairs + (result.GetValue(earliest) ? 1 : 0) + (result.GetValue(latest) ? 1 : 0) + (result.GetResult(time) is null ? 0 : 1);
            if (chosen != 1)
            {
                result.AddError("give exactly one of: PARTITION:OFFSET pairs, --to-earliest, --to-latest, --to-time");
            }
        });
        command.SetAction(async (parse, _) =>
        {
            OffsetTarget target;
            if (parse.GetValue(earliest))
            {
                target = new OffsetTarget.Earliest();
            }
            else if (parse.GetValue(latest))
            {
                target = new OffsetTarget.Latest();
            }
            else if (parse.GetValue(time) is { } at)
            {
                target = new OffsetTarget.AtTime(at);
            }
            else if (ParsePairs(Pairs(parse), out var pairs, out var error))
            {
                target = new OffsetTarget.Explicit(pairs);
            }
            else
            {
                Console.Error.WriteLine($"kcp offsets set: {error}");
                return CliApp.ConfigError;
            }

            return await WithToolAsync(parse, config, CliApp.RouteName(parse, route)!, async tool =>
            {
                var set = await tool.SetAsync(target, parse.GetValue(force), Console.Out.WriteLine).ConfigureAwait(false);
                Console.Out.WriteLine($"route {tool.Route.Name}: committed offsets of group {tool.Route.Group} on {tool.Route.Topic} set, local records updated:");
                foreach (var offset in set)
                {
                    Console.Out.WriteLine($"  partition {offset.Partition.Value}: next offset {offset.Offset.Value}");
                }

                return 0;
            }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>An ISO 8601 date and time with its offset (<c>2026-11-24T10:00:00Z</c>, <c>2026-11-24T11:00:00+01:00</c>).</summary>
    internal static DateTimeOffset? ParseTime(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        string[] formats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK"];
        if (DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) && text.Length > 0 && (text[^1] is 'Z' or 'z' || text.LastIndexOfAny(['+', '-']) > 10))
        {
            return at;
        }

        result.AddError($"--to-time '{text}' is not a date and time with offset; give an ISO 8601 time such as 2026-11-24T10:00:00Z or 2026-11-24T11:00:00+01:00");
        return null;
    }

    /// <summary>Parses <c>PARTITION:OFFSET</c> pairs, e.g. <c>0:100</c>.</summary>
    internal static bool ParsePairs(IEnumerable<string> values, out Dictionary<int, long> pairs, out string error)
    {
        pairs = [];
        error = "";
        foreach (var value in values)
        {
            var parts = value.Split(':');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                error = $"'{value}' is not PARTITION:OFFSET with two non-negative integers, e.g. 0:100";
                return false;
            }

            if (!pairs.TryAdd(partition, offset))
            {
                error = $"partition {partition} is given twice";
                return false;
            }
        }

        return true;
    }

    private static async Task<int> WithToolAsync(ParseResult parse, Option<FileInfo> configOption, string route, Func<OffsetsTool, Task<int>> action)
    {
        if (CliApp.ConfigFile(parse, configOption) is not { } configFile)
        {
            return CliApp.ConfigError;
        }

        KcpConfig config;
        try
        {
            config = ConfigLoader.Load(configFile.FullName);
        }
        catch (ConfigException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return CliApp.ConfigError;
        }

        if (!config.Routes.Any(r => r.Name == route))
        {
            Console.Error.WriteLine($"kcp offsets: no route named '{route}' in {config.RoutesDir}; routes: {string.Join(", ", config.Routes.Select(r => r.Name))}");
            return CliApp.Refused;
        }

        try
        {
            // The process's clock: the CLI is where it is chosen.
            using var tool = new OffsetsTool(config, route, TimeProvider.System);
            return await action(tool).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or TimeoutException or KafkaException)
        {
            Console.Error.WriteLine($"kcp offsets: {ex.Message}");
            return CliApp.EnvironmentError;
        }
    }

    private static string Note(PartitionOffsetsRow row)
    {
        var record = row.LocalTrust switch
        {
            RecordTrust.OutsideLog => "OUTSIDE THE LOG: the next run ignores this record",
            RecordTrust.OtherCluster => "ANOTHER CLUSTER'S: the next run ignores this record",
            RecordTrust.TrustedClusterUnknown => "no cluster id: trusted while inside the log",
            _ => "",
        };
        var committed = row.CommittedOutsideLog ? "COMMITTED OFFSET OUTSIDE THE LOG: the next run starts where auto.offset.reset says" : "";
        return string.Join("; ", new[] { record, committed }.Where(n => n.Length > 0));
    }

    private static string Text(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}

/// <summary>The answer of <c>kcp offsets show --json</c>; <c>null</c> where there is no value (no commit, no local record).</summary>
internal sealed record OffsetsAnswer(string Route, string Topic, string Group, string Cluster, string? ClusterId, IReadOnlyList<OffsetsRow> Partitions, long TotalLag);

/// <summary>One partition of <see cref="OffsetsAnswer"/>.</summary>
internal sealed record OffsetsRow(int Partition, long? Committed, long? LocalLastDone, long LogStart, long LogEnd, long Lag, string? RecordClusterId, string Note);
