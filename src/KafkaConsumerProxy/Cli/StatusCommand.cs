using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Admin;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp status [ROUTE]</c>, the overview of a running kcp, and <c>kcp skip ROUTE PARTITION:OFFSET</c>, its manual
/// skip: the <c>/api/v1</c> API through the control socket or the admin endpoint (<see cref="CliTarget"/>), as
/// <c>kcp routes</c>. Exit codes (<see cref="CliApp"/>): 0 done; 1 kcp not reachable or access refused; 2 invalid
/// arguments; 4 no such route, or (skip) the message is not being retried.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var target = new CliTarget();
        var route = new Argument<string?>("route") { Description = "One route: print its partitions and failing messages", Arity = ArgumentArity.ZeroOrOne };
        var json = CliApp.JsonOption();
        var (topic, group) = RoutesCommand.Filters();
        var command = new Command("status", "The overview of a running kcp: every route's state, rate, lag, unfinished and failing messages; or one route's partitions") { route, json, topic, group };
        target.AddTo(command);
        command.SetAction(async (parse, _) => await target.WithClientAsync(parse, async client =>
        {
            var now = TimeProvider.System.GetUtcNow();
            if (parse.GetValue(route) is { } name)
            {
                var info = await client.StatusAsync(name).ConfigureAwait(false);
                Console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(info, ControlJson.Options) : Partitions(info, now));
                return 0;
            }

            var listing = await client.StatusAsync().ConfigureAwait(false);
            listing = listing with { Routes = [.. listing.Routes.Where(r => RoutesCommand.Matches(r, parse.GetValue(topic), parse.GetValue(group)))] };
            Console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(listing, ControlJson.Options) : Routes(listing, now));
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    public static Command SkipCommand()
    {
        var target = new CliTarget();
        var route = new Argument<string>("route") { Description = "The route's name" };
        var position = new Argument<string>("partition:offset") { Description = "The message being retried, as PARTITION:OFFSET (see kcp status ROUTE)" };
        var json = CliApp.JsonOption();
        var command = new Command("skip", "Skip one message that a running kcp is retrying now (a manual skip: skip record, log line, metric)") { route, position, json };
        target.AddTo(command);
        command.Validators.Add(result =>
        {
            if (!TryParse(result.GetValue(position), out _, out _))
            {
                result.AddError("give the message as PARTITION:OFFSET, for example 0:1234");
            }
        });
        command.SetAction(async (parse, _) => await target.WithClientAsync(parse, async client =>
        {
            TryParse(parse.GetValue(position), out var partition, out var offset);
            var result = await client.SkipAsync(parse.GetRequiredValue(route), partition, offset).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, ControlJson.Options));
                return 0;
            }

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

    internal static string Routes(RouteInfoListing listing, DateTimeOffset now)
    {
        var rows = listing.Routes.Select(r => new[]
        {
            r.Route, $"{RoutesCommand.State(r)} for {CliText.AgeSince(r.Since, now)}" + Breaker(r, now) + (r.WaitingForBudget is { } wait ? ", " + Waiting(wait, now) : ""), Health(r), r.Topic, r.Group,
            r.DeliveredPerSecond.ToString("0.##", CultureInfo.InvariantCulture), CliText.Number(r.TotalLag),
            r.Unfinished.ToString(CultureInfo.InvariantCulture), r.Blocked.ToString(CultureInfo.InvariantCulture),
            r.LastError is null ? "" : $"{(r.LastErrorAt is { } at ? CliText.AgeSince(at, now) + " ago: " : "")}{r.LastError}",
        }).Prepend(["ROUTE", "STATE", "HEALTH", "TOPIC", "GROUP", "DELIVERED/S", "LAG", "UNFINISHED", "BLOCKED", "LAST ERROR"]);
        return CliText.Table(rows);
    }

    internal static string Partitions(RouteInfo info, DateTimeOffset now)
    {
        var rows = (info.Partitions ?? []).Select(p => new[]
        {
            p.Partition.ToString(CultureInfo.InvariantCulture), p.Health.Replace('_', ' '), p.Member.ToString(CultureInfo.InvariantCulture), CliText.Number(p.NextOffset),
            CliText.Number(p.CommittedOffset), CliText.Number(p.HighWatermark), CliText.Number(p.Lag),
            p.Unfinished.ToString(CultureInfo.InvariantCulture),
            p.OldestUnfinishedOffset < 0 || p.OldestUnfinishedSince is not { } since ? "-" : $"{p.OldestUnfinishedOffset} for {CliText.AgeSince(since, now)}",
            p.Failing is { } f
                ? $"offset {f.Offset}: failing for {CliText.AgeSince(f.FailingSince, now)}, {f.Attempts} attempt(s), {CliText.Failure(f.LastOutcome, f.LastReason)}"
                : "",
        }).Prepend(["PARTITION", "HEALTH", "MEMBER", "NEXT", "COMMITTED", "HIGH", "LAG", "UNFINISHED", "OLDEST UNFINISHED", "FAILING"]);
        if (info.Instance is not null)
        {
            // With a fleet: every partition of the group, with the instance that owns it.
            var owners = (info.Partitions ?? []).Select(p => p.Instance == info.Instance ? $"{p.Instance} (this kcp)" : p.Instance ?? "").Prepend("OWNER").ToList();
            rows = rows.Select((r, i) => (string[])[r[0], owners[i], .. r[1..]]);
        }

        var waiting = info.WaitingForBudget is { } wait ? $"; {Waiting(wait, now)}" : "";
        var fleet = info.FleetUnavailable is { } why ? $"\nfleet view unavailable: {why}" : "";
        var gone = (info.Instances ?? []).Where(i => i.State != "alive").Select(i => $"\ninstance {i.Instance}: {i.State} (last heartbeat {CliText.Age(TimeSpan.FromSeconds(i.LastSeenSecondsAgo))} ago)");
        return $"{info.Route}: {RoutesCommand.State(info)} for {CliText.AgeSince(info.Since, now)} ({info.Cause}){Breaker(info, now)}; health {Health(info)}; topic {info.Topic}, group {info.Group}{waiting}{fleet}{string.Concat(gone)}\n" + CliText.Table(rows);
    }

    // The dashboard's word for the route (RouteHealth), e.g. "blocked: 2 partitions blocked".
    private static string Health(RouteInfo r) => r.Health.Replace('_', ' ') + (r.HealthDetail.Length > 0 ? ": " + r.HealthDetail : "");

    // E.g. ", breaker open for 12s (7 probes)"; nothing while the breaker is closed or the route has none.
    private static string Breaker(RouteInfo r, DateTimeOffset now) => r.Breaker is { State: not "closed" } b
        ? string.Create(CultureInfo.InvariantCulture, $", breaker {b.State} for {CliText.AgeSince(b.Since, now)} ({b.Probes} probes)")
        : "";

    // E.g. "waiting for budget shared (held by route a; 1 in flight) for 12s, 1 request(s)".
    private static string Waiting(Delivery.BudgetWait wait, DateTimeOffset now) =>
        $"{wait.Description} for {CliText.AgeSince(wait.Since, now)}, {wait.Waiting} request(s)";
}
