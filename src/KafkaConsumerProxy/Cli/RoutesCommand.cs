using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp routes list|pause|resume|stop|start|restart</c> and <c>kcp reload</c>: operations on a running kcp through
/// its control socket, found from <c>--config</c> (its state_dir). Exit codes: 0 done; 1 kcp not reachable;
/// 2 invalid arguments, a configuration with errors, or a selection that matches no route.
/// </summary>
internal static class RoutesCommand
{
    public static Command Create()
    {
        var command = new Command("routes", "List the routes of a running kcp, or pause, resume, stop, start or restart some of them");
        command.Subcommands.Add(ListCommand());
        foreach (var action in Enum.GetValues<RouteAction>())
        {
            command.Subcommands.Add(ActionCommand(action));
        }

        return command;
    }

    public static Command ReloadCommand()
    {
        var config = CliApp.ConfigOption();
        var command = new Command("reload", "Make a running kcp load its configuration again (as it does when the files change)") { config };
        command.SetAction(async (parse, _) => await WithClientAsync(parse.GetRequiredValue(config), async client =>
        {
            var result = await client.ReloadAsync().ConfigureAwait(false);
            PrintReload(result, Console.Out);
            return result.Accepted ? 0 : CliApp.ConfigError;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command ListCommand()
    {
        var config = CliApp.ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the status as JSON" };
        var command = new Command("list", "Print every route with its state, since when and why, and its last error") { config, json };
        command.SetAction(async (parse, _) => await WithClientAsync(parse.GetRequiredValue(config), async client =>
        {
            var listing = await client.ListAsync().ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(listing, ControlJson.Options));
                return 0;
            }

            PrintTable(listing, Console.Out);
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command ActionCommand(RouteAction action)
    {
        var verb = action.ToString().ToLowerInvariant();
        var config = CliApp.ConfigOption();
        var route = new Argument<string?>("route") { Description = "The route's name (its file name without extension)", Arity = ArgumentArity.ZeroOrOne };
        var topic = new Option<string?>("--topic") { Description = "Every route of this topic" };
        var group = new Option<string?>("--group") { Description = "With --topic: only the route of this group" };
        var all = new Option<bool>("--all") { Description = "Every route" };
        var command = new Command(verb, Describe(action)) { config, route, topic, group, all };
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
        command.SetAction(async (parse, _) => await WithClientAsync(parse.GetRequiredValue(config), async client =>
        {
            var selector = new RouteSelector(parse.GetValue(route), parse.GetValue(topic), parse.GetValue(group), parse.GetValue(all));
            var result = await client.OperateAsync(action, selector).ConfigureAwait(false);
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

    internal static async Task<int> WithClientAsync(FileInfo configFile, Func<ControlClient, Task<int>> action)
    {
        var (config, errors) = ConfigLoader.TryLoad(configFile.FullName);
        var stateDir = config?.StateDir ?? StateDirOf(configFile.FullName);
        if (stateDir is null)
        {
            Console.Error.WriteLine(new ConfigException(errors).Message);
            Console.Error.WriteLine("kcp: cannot find the running kcp's control socket: state_dir cannot be read from the configuration");
            return CliApp.ConfigError;
        }

        // Several kcp processes may share a state_dir: the operation goes to each one that answers.
        var sockets = new List<string>();
        foreach (var socket in ControlServer.SocketPaths(stateDir))
        {
            // The process's clock: the CLI is where it is chosen.
            if (await ControlServer.AnswersAsync(socket, TimeProvider.System).ConfigureAwait(false))
            {
                sockets.Add(socket);
            }
        }

        if (sockets.Count == 0)
        {
            Console.Error.WriteLine($"kcp: kcp is not running for this configuration (no kcp answers on {ControlServer.SocketPath(stateDir)})");
            return CliApp.EnvironmentError;
        }

        var worst = 0;
        foreach (var socket in sockets)
        {
            if (sockets.Count > 1)
            {
                Console.Out.WriteLine($"== kcp on {socket}");
            }

            using var client = new ControlClient(socket);
            int code;
            try
            {
                code = await action(client).ConfigureAwait(false);
            }
            catch (ControlUnavailableException ex)
            {
                Console.Error.WriteLine($"kcp: {ex.Message}");
                code = CliApp.EnvironmentError;
            }
            catch (ControlRequestException ex)
            {
                Console.Error.WriteLine($"kcp: {ex.Message}");
                code = CliApp.ConfigError;
            }

            worst = Math.Max(worst, code);
        }

        return worst;
    }

    /// <summary>
    /// state_dir as written in kcp.yaml (default <c>state</c>, relative to the file), for a configuration that does not
    /// validate: a route file being edited must not keep the operator from reaching the running kcp (or from asking it
    /// to reload, which reports the errors). Null when kcp.yaml itself cannot be read.
    /// </summary>
    private static string? StateDirOf(string configFile)
    {
        try
        {
            var yaml = new YamlDotNet.RepresentationModel.YamlStream();
            using (var reader = new StreamReader(configFile))
            {
                yaml.Load(reader);
            }

            var written = yaml.Documents.Count > 0
                && yaml.Documents[0].RootNode is YamlDotNet.RepresentationModel.YamlMappingNode root
                && root.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("state_dir"), out var node)
                && node is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { Length: > 0 } value }
                    ? value
                    : "state";
            return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(configFile)!, written));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            return null;
        }
    }

    internal static void PrintTable(RoutesListing listing, TextWriter output)
    {
        var rows = listing.Routes.Select(r => new[]
        {
            r.Route, Lower(r.State) + (r.OperatorPaused && r.State != RouteState.Paused ? " (pause kept)" : "") + (r.OperatorStopped && r.State != RouteState.Stopped ? " (stop kept)" : ""),
            r.Since.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            r.Topic, r.Group, r.Cluster, r.AssignedPartitions.ToString(CultureInfo.InvariantCulture),
            r.State == RouteState.Failed && r.NextRestart is { } next ? $"{r.Cause}; restart at {next.ToUniversalTime():HH:mm:ss}" : r.Cause,
            r.LastError is null ? "" : $"{r.LastErrorAt?.ToUniversalTime():HH:mm:ss} {r.LastError}",
        }).Prepend(["ROUTE", "STATE", "SINCE", "TOPIC", "GROUP", "CLUSTER", "PARTITIONS", "CAUSE", "LAST ERROR"]).ToList();
        var widths = Enumerable.Range(0, 8).Select(c => rows.Max(r => r[c].Length)).ToList();
        foreach (var row in rows)
        {
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c < 8 ? cell.PadRight(widths[c]) : cell)).TrimEnd());
        }

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
            output.WriteLine($"Last rejected reload at {rejected.At.ToUniversalTime():yyyy-MM-dd'T'HH:mm:ss'Z'} ({rejected.Trigger}):");
            foreach (var error in rejected.Errors)
            {
                output.WriteLine($"  {error}");
            }
        }
    }

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
