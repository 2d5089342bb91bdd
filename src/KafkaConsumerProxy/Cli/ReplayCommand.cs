using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp replay ROUTE (--from-offset N | --from-time T) ...</c>: delivers a range of a route's topic again
/// (<see cref="RangeReplay"/>), from this process, while the route itself may keep running in kcp. Exit codes: 0 every
/// message accepted (or skipped by the route's <c>skip_on_status</c>); 3 some failed; 130 stopped by Ctrl-C or
/// SIGTERM (the lines printed say how to resume); 1 the cluster failed; 2 bad arguments or configuration.
/// </summary>
internal static class ReplayCommand
{
    /// <summary>Exit code of a replay in which some message failed.</summary>
    public const int SomeFailed = 3;

    /// <summary>Exit code of a replay stopped before its end.</summary>
    public const int Interrupted = 130;

    public static Command Create()
    {
        var config = CliApp.ConfigOption();
        var route = new Argument<string?>("route") { Description = "Route name (its file name without extension)", Arity = ArgumentArity.ZeroOrOne };
        var routeOption = new Option<string?>("--route", "-r") { Description = "Route name (as the argument)", Hidden = true };
        var partition = new Option<int[]>("--partition")
        {
            Description = "Only this partition; repeat for more (default: every partition)",
            CustomParser = r =>
            {
                var partitions = new List<int>();
                foreach (var token in r.Tokens)
                {
                    if (int.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                    {
                        partitions.Add(p);
                    }
                    else
                    {
                        r.AddError($"--partition '{token.Value}' is not a whole number of at least 0");
                    }
                }

                return [.. partitions];
            },
        };
        var fromOffset = new Option<long?>("--from-offset") { Description = "The first offset replayed", CustomParser = r => CliApp.WholeNumber(r, 0, long.MaxValue) };
        var fromTime = new Option<DateTimeOffset?>("--from-time") { Description = "Start at the first message at or after this time (the broker's time index), e.g. 2026-11-24T10:00:00Z", CustomParser = r => DlqCommand.ParseTime(r, "--from-time") };
        var toOffset = new Option<long?>("--to-offset") { Description = "The last offset replayed (default: the end as it is now)", CustomParser = r => CliApp.WholeNumber(r, 0, long.MaxValue) };
        var toTime = new Option<DateTimeOffset?>("--to-time") { Description = "Only messages at or before this time", CustomParser = r => DlqCommand.ParseTime(r, "--to-time") };
        var endpoint = new Option<Uri?>("--endpoint")
        {
            Description = "Send to this URL instead of the route's endpoint (with the route's format, auth, signing and TLS files)",
            CustomParser = r =>
            {
                var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var url) && ReplayRequest.IsEndpoint(url))
                {
                    return url;
                }

                r.AddError($"--endpoint '{text}' is not an http:// or https:// URL with a host");
                return null;
            },
        };
        var rate = new Option<int?>("--rate") { Description = "At most this many messages per second (default: the route's max_requests_per_second)", CustomParser = r => CliApp.WholeNumber(r, 1, RouteDefaults.MaxRequestsPerSecondLimit) };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the range and count its messages; send nothing" };
        var json = new Option<bool>("--json") { Description = "Print the outcome as one JSON object" };
        var command = new Command("replay", "Deliver a range of a route's topic again, to its endpoint or another URL, with Kcp-Replay: <id>; the live group's offsets are not touched")
        {
            config, route, routeOption, partition, fromOffset, fromTime, toOffset, toTime, endpoint, rate, dryRun, json,
        };
        command.Validators.Add(result =>
        {
            // Whether options were given, not their values: reading a value that did not parse throws.
            if ((result.GetResult(route)?.Tokens.Count ?? 0) + (result.GetResult(routeOption) is null ? 0 : 1) != 1)
            {
                result.AddError("give the route, as the argument or with --route, once");
            }

            if ((result.GetResult(fromOffset) is null) == (result.GetResult(fromTime) is null))
            {
                result.AddError("give exactly one of --from-offset and --from-time");
            }

            if (result.GetResult(toOffset) is not null && result.GetResult(toTime) is not null)
            {
                result.AddError("give at most one of --to-offset and --to-time");
            }
        });
        command.SetAction(async (parse, interrupted) =>
        {
            var request = new ReplayRequest
            {
                Partitions = parse.GetValue(partition) ?? [],
                FromOffset = parse.GetValue(fromOffset),
                FromTime = parse.GetValue(fromTime),
                ToOffset = parse.GetValue(toOffset),
                ToTime = parse.GetValue(toTime),
                Endpoint = parse.GetValue(endpoint),
                Rate = parse.GetValue(rate),
                DryRun = parse.GetValue(dryRun),
            };
            foreach (var problem in request.Problems())
            {
                Console.Error.WriteLine($"kcp replay: {problem}");
            }

            if (request.Problems().Count > 0)
            {
                return CliApp.ConfigError;
            }

            var configFile = parse.GetRequiredValue(config).FullName;
            var loaded = ConfigLoader.Load(configFile);
            var name = parse.GetValue(route) ?? parse.GetValue(routeOption)!;
            var chosen = loaded.Routes.FirstOrDefault(r => r.Name == name);
            if (chosen is null)
            {
                Console.Error.WriteLine($"kcp replay: '{name}' is not a route of {loaded.ConfigFile}; routes: {string.Join(", ", loaded.Routes.Select(r => r.Name))}");
                return CliApp.ConfigError;
            }

            return await RunAsync(loaded, chosen, request, configFile, parse.GetValue(json), interrupted).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(KcpConfig config, RouteDefinition route, ReplayRequest request, string configFile, bool json, CancellationToken interrupted)
    {
        using var loggers = LoggerFactory.Create(b =>
        {
            CliApp.ConfigureLogging(b, config.Logging);
            // Standard output is the replay's: its plan, progress and summary.
            b.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        // The process's clock: the CLI is where it is chosen.
        var time = TimeProvider.System;
        var progress = new ReplayProgress(ReplayProgress.NewId(), route.Name, request, RangeReplay.TargetOf(route, request), time, Environment.UserName);
        var replay = new RangeReplay(config, route, loggers.CreateLogger($"kcp.replay.{route.Name}"), time);
        try
        {
            replay.Plan(progress);
        }
        catch (ReplayException ex)
        {
            Console.Error.WriteLine($"kcp replay: {ex.Message}");
            return CliApp.ConfigError;
        }

        var planned = progress.Snapshot();
        if (!json)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replay {progress.Id} of route {route.Name}: topic {planned.Topic}, {planned.Total} offset(s): {string.Join(", ", planned.Partitions.Select(p => $"partition {p.Partition} offsets {p.Start}..{p.End - 1}"))} to {progress.Target}{(request.DryRun ? " (dry run)" : "")}"));
        }

        // Ctrl-C and SIGTERM (the parser's token, CliApp) stop the replay after the message being sent; a second one
        // is not needed.
        await using var interrupt = interrupted.Register(progress.Cancel.Cancel).ConfigureAwait(false);
        var bar = !json && !Console.IsOutputRedirected ? DrawAsync(progress, time) : Task.CompletedTask;
        await replay.RunAsync(progress, CancellationToken.None).ConfigureAwait(false);
        await bar.ConfigureAwait(false);

        var status = progress.Snapshot();
        var resume = progress.ResumeArguments().Select(args => ResumeCommand(configFile, route.Name, request, args)).ToList();
        if (json)
        {
            var node = JsonSerializer.SerializeToNode(status, ControlJson.Options)!.AsObject();
            node["resume"] = new JsonArray([.. resume.Select(r => JsonValue.Create(r))]);
            Console.Out.WriteLine(node.ToJsonString(ControlJson.Options));
        }
        else
        {
            Console.Out.WriteLine(Summary(status));
            if (status.State != ReplayState.Done && resume.Count > 0)
            {
                Console.Out.WriteLine("to resume:");
                foreach (var line in resume)
                {
                    Console.Out.WriteLine("  " + line);
                }
            }
        }

        if (status.State == ReplayState.Error)
        {
            Console.Error.WriteLine($"kcp replay: {status.Error}");
        }

        return status.State switch
        {
            ReplayState.Error => CliApp.EnvironmentError,
            ReplayState.Cancelled => Interrupted,
            _ => status.Failed > 0 ? SomeFailed : 0,
        };
    }

    private static string Summary(ReplayStatus s) => s.DryRun
        ? string.Create(CultureInfo.InvariantCulture, $"dry run: {s.Total - s.OutsideTimeRange} offset(s) in range{(s.OutsideTimeRange > 0 ? $", {s.OutsideTimeRange} outside the time range" : "")}; nothing sent")
        : string.Create(CultureInfo.InvariantCulture,
            $"replay {s.Id} {s.State.ToString().ToLowerInvariant()}: {s.Sent} sent, {s.Accepted} accepted, {s.Failed} failed, {s.Skipped} skipped, {s.OutsideTimeRange} outside the time range{(s.Failed > 0 ? $" (failures in {Path.Combine("state_dir", "replay", StateDirLayout.SkipLogFile)})" : "")}");

    private static string ResumeCommand(string configFile, string route, ReplayRequest request, string range)
    {
        var command = $"kcp replay --config {Quote(configFile)} {Quote(route)} {range}";
        if (request.Endpoint is { } url)
        {
            command += $" --endpoint {Quote(url.ToString())}";
        }

        if (request.Rate is { } rate)
        {
            command += string.Create(CultureInfo.InvariantCulture, $" --rate {rate}");
        }

        return command;
    }

    // A shell word: as it is when it needs no quoting, else in single quotes.
    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or ':' or '=' or ',' or '@' or '+')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    // The progress bar, redrawn in place on a terminal until the replay ends.
    private static async Task DrawAsync(ReplayProgress progress, TimeProvider time)
    {
        while (!progress.Finished.IsCompleted)
        {
            await Task.WhenAny(progress.Finished, Task.Delay(TimeSpan.FromMilliseconds(250), time)).ConfigureAwait(false);
            var s = progress.Snapshot();
            var done = s.Partitions.Sum(p => p.Next - p.Start);
            var width = 30;
            var filled = s.Total == 0 ? width : (int)(width * done / s.Total);
            Console.Out.Write(string.Create(CultureInfo.InvariantCulture,
                $"\r[{new string('#', filled)}{new string('.', width - filled)}] {done}/{s.Total}  sent {s.Sent}  accepted {s.Accepted}  failed {s.Failed}  skipped {s.Skipped}  "));
        }

        Console.Out.WriteLine();
    }
}
