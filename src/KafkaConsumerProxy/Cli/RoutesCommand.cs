using System.CommandLine;
using System.Text.Json;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp routes list|pause|resume|stop|start|restart</c> and <c>kcp reload</c>: operations on a running kcp through its
/// control socket (found from the configuration's state_dir) or its admin endpoint (<c>--admin-url</c>), see
/// <see cref="CliTarget"/>. <c>routes list</c> is the lifecycle view (state, cause, restarts, reloads); <c>kcp status</c>
/// is the overview. Exit codes (<see cref="CliApp"/>): 0 done; 1 kcp not reachable or access refused; 2 invalid
/// arguments or (reload) a configuration with errors; 4 a selection that matches no route.
/// </summary>
internal static class RoutesCommand
{
    public static Command Create()
    {
        var command = new Command("routes", "The routes' lifecycle: list them with state, cause and restarts, or pause, resume, stop, start or restart some of them");
        command.Subcommands.Add(ListCommand());
        foreach (var action in Enum.GetValues<RouteAction>())
        {
            command.Subcommands.Add(ActionCommand(action));
        }

        return command;
    }

    public static Command ReloadCommand()
    {
        var target = new CliTarget();
        var json = CliApp.JsonOption();
        var command = new Command("reload", "Make a running kcp load its configuration again (as SIGHUP does, and as it does by itself when the files change)") { json };
        target.AddTo(command);
        command.SetAction(async (parse, _) => await target.WithClientAsync(parse, async client =>
        {
            var result = await client.ReloadAsync().ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, ControlJson.Options));
            }
            else
            {
                PrintReload(result, Console.Out);
            }

            return result.Accepted ? 0 : CliApp.ConfigError;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command ListCommand()
    {
        var target = new CliTarget();
        var json = CliApp.JsonOption();
        var (topic, group) = Filters();
        var command = new Command("list", "Print every route with its state and for how long, why, its restarts and last error (kcp status adds rates, lag and failing messages)") { json, topic, group };
        target.AddTo(command);
        command.SetAction(async (parse, _) => await target.WithClientAsync(parse, async client =>
        {
            var listing = await client.ListAsync().ConfigureAwait(false);
            listing = listing with { Routes = [.. listing.Routes.Where(r => Matches(r, parse.GetValue(topic), parse.GetValue(group)))] };
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(listing, ControlJson.Options));
                return 0;
            }

            PrintTable(listing, Console.Out, TimeProvider.System.GetUtcNow());
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary><c>--topic</c> and <c>--group</c> as filters of a listing.</summary>
    internal static (Option<string?> Topic, Option<string?> Group) Filters() => (
        new Option<string?>("--topic") { Description = "Only the routes of this topic" },
        new Option<string?>("--group") { Description = "Only the routes of this consumer group" });

    internal static bool Matches(RouteStatus route, string? topic, string? group) =>
        (topic is null || route.Topic == topic) && (group is null || route.Group == group);

    private static Command ActionCommand(RouteAction action)
    {
        var verb = action.ToString().ToLowerInvariant();
        var target = new CliTarget();
        var route = new Argument<string?>("route") { Description = "The route's name (its file name without extension)", Arity = ArgumentArity.ZeroOrOne };
        var topic = new Option<string?>("--topic") { Description = "Every route of this topic" };
        var group = new Option<string?>("--group") { Description = "With --topic: only the route of this group" };
        var all = new Option<bool>("--all") { Description = "Every route" };
        var json = CliApp.JsonOption();
        var command = new Command(verb, Describe(action)) { route, topic, group, all, json };
        target.AddTo(command);
        command.Validators.Add(result =>
        {
            var given = (result.GetValue(route) is not null ? 1 : 0) + (result.GetValue(topic) is not null ? 1 : 0) + (result.GetValue(all) ? 1 : 0);
            if (given != 1)
            {
                result.AddError("name one route, or give --topic T [--group G], or --all");
            }
            else if (result.GetValue(group) is not null && result.GetValue(topic) is null)
            {
                result.AddError("--group needs --topic");
            }
        });
        command.SetAction(async (parse, _) => await target.WithClientAsync(parse, async client =>
        {
            var selector = new RouteSelector(parse.GetValue(route), parse.GetValue(topic), parse.GetValue(group), parse.GetValue(all));
            var result = await client.OperateAsync(action, selector).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, ControlJson.Options));
                return 0;
            }

            foreach (var status in result.Routes)
            {
                Console.Out.WriteLine($"{status.Route}: {Lower(status.State)}{(status.State == RouteState.Failed ? $" ({status.Cause})" : "")}");
            }

            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static string Describe(RouteAction action) => action switch
    {
        RouteAction.Pause => "Stop fetching and starting deliveries; attempts in flight finish and are committed; the members stay in the group. Kept across restarts of kcp",
        RouteAction.Resume => "Undo a pause",
        RouteAction.Stop => "Finish, commit and leave the group; the route stays stopped, also across restarts of kcp",
        RouteAction.Start => "Start a stopped route, or a failed one without waiting for its backoff",
        _ => "Stop, then start (a pause stays in force)",
    };

    internal static void PrintTable(RoutesListing listing, TextWriter output, DateTimeOffset now)
    {
        var rows = listing.Routes.Select(r => new[]
        {
            r.Route, $"{State(r)} for {CliText.AgeSince(r.Since, now)}",
            r.Topic, r.Group, r.Cluster, r.AssignedPartitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            r.State == RouteState.Failed && r.NextRestart is { } next ? $"{r.Cause}; restart in {CliText.Age(next - now)}" : r.Cause,
            r.LastError is null ? "" : $"{(r.LastErrorAt is { } at ? CliText.AgeSince(at, now) + " ago: " : "")}{r.LastError}",
        }).Prepend(["ROUTE", "STATE", "TOPIC", "GROUP", "CLUSTER", "PARTITIONS", "CAUSE", "LAST ERROR"]);
        output.WriteLine(CliText.Table(rows));

        if (listing.LastReload is { InProgress.Count: > 0 } last)
        {
            output.WriteLine();
            output.WriteLine("Reload in progress:");
            foreach (var work in last.InProgress)
            {
                output.WriteLine($"  {work}");
            }
        }

        if (listing.LastRejectedReload is { } rejected)
        {
            output.WriteLine();
            output.WriteLine($"Last rejected reload {CliText.AgeSince(rejected.At, now)} ago ({rejected.Trigger}):");
            foreach (var error in rejected.Errors)
            {
                output.WriteLine($"  {error}");
            }
        }
    }

    /// <summary>The state in lower case, with an operator's pause or stop that is kept but not in force now.</summary>
    internal static string State(RouteStatus r) =>
        Lower(r.State) + (r.OperatorPaused && r.State != RouteState.Paused ? " (pause kept)" : "") + (r.OperatorStopped && r.State != RouteState.Stopped ? " (stop kept)" : "");

    private static void PrintReload(ReloadResult result, TextWriter output)
    {
        if (!result.Accepted)
        {
            output.WriteLine($"reload rejected, nothing changed ({result.Errors.Count} error(s)):");
            foreach (var error in result.Errors)
            {
                output.WriteLine($"  {error}");
            }

            return;
        }

        output.WriteLine($"reload applied: added [{string.Join(", ", result.Added)}], removed [{string.Join(", ", result.Removed)}], changed [{string.Join(", ", result.Changed)}], unchanged [{string.Join(", ", result.Unchanged)}]");
        foreach (var line in result.NeedRestart)
        {
            output.WriteLine($"  needs a restart of kcp to apply: {line}");
        }

        foreach (var error in result.Errors)
        {
            output.WriteLine($"  {error}");
        }

        foreach (var work in result.InProgress)
        {
            output.WriteLine($"  in progress: {work}");
        }
    }

    internal static string Lower(RouteState state) => state.ToString().ToLowerInvariant();
}
