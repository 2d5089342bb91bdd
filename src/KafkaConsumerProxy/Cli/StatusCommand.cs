using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Admin;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp status [ROUTE]</c> and <c>kcp skip ROUTE PARTITION:OFFSET</c>: the status API and the manual skip of a running
/// kcp, through the same control socket and client as <c>kcp routes</c>. Exit codes as there: 0 done; 1 kcp not
/// reachable; 2 invalid arguments, no such route, or (skip) the message is not being retried.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var config = CliApp.ConfigOption();
        var route = new Argument<string?>("route") { Description = "One route: print its partitions and failing messages", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON" };
        var command = new Command("status", "Print the routes of a running kcp with rate, lag, in flight and blocked messages, or one route's partitions") { config, route, json };
        command.SetAction(async (parse, _) => await RoutesCommand.WithClientAsync(parse.GetRequiredValue(config), async client =>
        {
            if (parse.GetValue(route) is { } name)
            {
                var info = await client.StatusAsync(name).ConfigureAwait(false);
                Console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(info, ControlJson.Options) : Partitions(info));
                return 0;
            }

            var listing = await client.StatusAsync().ConfigureAwait(false);
            Console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(listing, ControlJson.Options) : Routes(listing));
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    public static Command SkipCommand()
    {
        var config = CliApp.ConfigOption();
        var route = new Argument<string>("route") { Description = "The route's name" };
        var position = new Argument<string>("partition:offset") { Description = "The message being retried, as PARTITION:OFFSET (see kcp status ROUTE)" };
        var command = new Command("skip", "Skip one message that a running kcp is retrying now (a manual skip: skip record, log line, metric)") { config, route, position };
        command.Validators.Add(result =>
        {
            if (!TryParse(result.GetValue(position), out _, out _))
            {
                result.AddError("give the message as PARTITION:OFFSET, for example 0:1234");
            }
        });
        command.SetAction(async (parse, _) => await RoutesCommand.WithClientAsync(parse.GetRequiredValue(config), async client =>
        {
            TryParse(parse.GetValue(position), out var partition, out var offset);
            var result = await client.SkipAsync(parse.GetRequiredValue(route), partition, offset).ConfigureAwait(false);
            var offsets = result.Offsets.Count > 1 ? "offsets " + string.Join(", ", result.Offsets) : $"offset {result.Offset}";
            Console.Out.WriteLine($"{result.Route} partition {result.Partition} {offsets}: {result.Result}");
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static bool TryParse(string? text, out int partition, out long offset)
    {
        partition = 0;
        offset = 0;
        var parts = text?.Split(':') ?? [];
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out partition)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }

    internal static string Routes(RouteInfoListing listing)
    {
        var rows = listing.Routes.Select(r => new[]
        {
            r.Route, RoutesCommand.Lower(r.State) + Breaker(r) + (r.WaitingForBudget is { } wait ? ", " + Waiting(wait) : ""), r.Topic, r.Group,
            r.DeliveredPerSecond.ToString("0.##", CultureInfo.InvariantCulture), r.TotalLag.ToString(CultureInfo.InvariantCulture),
            r.InFlight.ToString(CultureInfo.InvariantCulture), r.Blocked.ToString(CultureInfo.InvariantCulture), r.LastError ?? "",
        }).Prepend(["ROUTE", "STATE", "TOPIC", "GROUP", "DELIVERED/S", "LAG", "IN FLIGHT", "BLOCKED", "LAST ERROR"]);
        return Table(rows);
    }

    internal static string Partitions(RouteInfo info)
    {
        var rows = (info.Partitions ?? []).Select(p => new[]
        {
            p.Partition.ToString(CultureInfo.InvariantCulture), p.Member.ToString(CultureInfo.InvariantCulture), p.NextOffset.ToString(CultureInfo.InvariantCulture),
            p.CommittedOffset.ToString(CultureInfo.InvariantCulture), p.HighWatermark.ToString(CultureInfo.InvariantCulture), p.Lag.ToString(CultureInfo.InvariantCulture),
            p.InFlight.ToString(CultureInfo.InvariantCulture),
            p.Failing is { } f ? $"offset {f.Offset}: {f.Attempts} attempts since {f.FailingSince.ToUniversalTime():HH:mm:ss}, {f.LastReason}" : "",
        }).Prepend(["PARTITION", "MEMBER", "NEXT", "COMMITTED", "HIGH", "LAG", "IN FLIGHT", "FAILING"]);
        if (info.Instance is not null)
        {
            // With a fleet: every partition of the group, with the instance that owns it.
            var owners = (info.Partitions ?? []).Select(p => p.Instance == info.Instance ? $"{p.Instance} (this kcp)" : p.Instance ?? "").Prepend("OWNER").ToList();
            rows = rows.Select((r, i) => (string[])[r[0], owners[i], .. r[1..]]);
        }

        var waiting = info.WaitingForBudget is { } wait ? $"; {Waiting(wait)}" : "";
        var fleet = info.FleetUnavailable is { } why ? $"\nfleet view unavailable: {why}" : "";
        var gone = (info.Instances ?? []).Where(i => i.State != "alive").Select(i => $"\ninstance {i.Instance}: {i.State} (last heartbeat {i.LastSeenSecondsAgo:0} s ago)");
        return $"{info.Route}: {RoutesCommand.Lower(info.State)} ({info.Cause}){Breaker(info)}; topic {info.Topic}, group {info.Group}{waiting}{fleet}{string.Concat(gone)}\n" + Table(rows);
    }

    // E.g. ", breaker open since 12:00:01 (7 probes)"; nothing while the breaker is closed or the route has none.
    private static string Breaker(RouteInfo r) => r.Breaker is { State: not "closed" } b
        ? string.Create(CultureInfo.InvariantCulture, $", breaker {b.State} since {b.Since.ToUniversalTime():HH:mm:ss} ({b.Probes} probes)")
        : "";

    // E.g. "waiting for budget shared (held by route a; 1 in flight) since 12:00:01, 1 request(s)".
    private static string Waiting(Delivery.BudgetWait wait) =>
        $"{wait.Description} since {wait.Since.ToUniversalTime():HH:mm:ss}, {wait.Waiting} request(s)";

    private static string Table(IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = Enumerable.Range(0, all[0].Length).Select(c => all.Max(r => r[c].Length)).ToList();
        return string.Join('\n', all.Select(r => string.Join("  ", r.Select((cell, c) => c < r.Length - 1 ? cell.PadRight(widths[c]) : cell)).TrimEnd()));
    }
}
