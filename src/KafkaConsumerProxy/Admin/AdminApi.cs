using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Fleet;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// One route in <c>GET /api/v1/routes</c>: its supervisor status (whose fields it carries, so the JSON stays flat) plus
/// what its partitions show.
/// </summary>
internal sealed record RouteInfo : RouteStatus
{
    public RouteInfo(RouteStatus status, double deliveredPerSecond, long totalLag, int unfinished, int blocked, IReadOnlyList<PartitionInfo>? partitions)
        : base(status)
    {
        DeliveredPerSecond = deliveredPerSecond;
        TotalLag = totalLag;
        Unfinished = unfinished;
        Blocked = blocked;
        Partitions = partitions;
    }

    /// <summary>For reading an answer: every property is set from the JSON.</summary>
    [JsonConstructor]
    private RouteInfo()
        : base(string.Empty, string.Empty, string.Empty, string.Empty, 0, default, default, string.Empty, false, false, 0, null, null, null, 0)
    {
    }

    /// <summary>Messages delivered per second over the last minute.</summary>
    public double DeliveredPerSecond { get; init; }

    /// <summary>High watermark minus committed offset, summed over the partitions this process owns.</summary>
    public long TotalLag { get; init; }

    /// <summary>Messages fetched and not yet finished (delivered or skipped), summed over the partitions.</summary>
    public int Unfinished { get; init; }

    /// <summary>Deprecated: the same as <see cref="Unfinished"/> (requests in flight are the metric <c>kcp_delivery_in_flight</c>).</summary>
    [JsonPropertyName("in_flight")]
    public int InFlightDeprecated => Unfinished;

    /// <summary>Messages failing now (head of line or, in async mode, any in flight that failed).</summary>
    public int Blocked { get; init; }

    /// <summary>Per partition; only in <c>GET /api/v1/routes/{route}</c>. With a fleet, every partition the group's instances own.</summary>
    public IReadOnlyList<PartitionInfo>? Partitions { get; init; }

    /// <summary>This kcp's instance id in the fleet; null without a <c>fleet</c> section.</summary>
    public string? Instance { get; init; }

    /// <summary>The other instances running this route (alive, gone or left); only in <c>GET /api/v1/routes/{route}</c> with a fleet.</summary>
    public IReadOnlyList<InstanceView>? Instances { get; init; }

    /// <summary>Why the other instances cannot be shown now (the control topic cannot be used); null when they can.</summary>
    public string? FleetUnavailable { get; init; }

    /// <summary>The route's circuit breaker in this process (state, since, probes); null when it has none (<c>breaker_failures: 0</c>) or is not built.</summary>
    public BreakerView? Breaker { get; init; }

    /// <summary>The route's health, one of <see cref="RouteHealth.Names"/>: its state, breaker and partitions together.</summary>
    public string Health { get; init; } = "running";

    /// <summary>What makes <see cref="Health"/> beyond the state: the breaker's state, partitions blocked and failing (empty when none).</summary>
    public string HealthDetail { get; init; } = "";

    /// <summary>The route's settings, without secrets; only in <c>GET /api/v1/routes/{route}</c>.</summary>
    public RouteSettingsView? Settings { get; init; }
}

/// <summary>One partition owned by this process, with its failing head-of-line message, if any.</summary>
internal sealed record PartitionInfo(
    string Topic,
    int Partition,
    int Member,
    long NextOffset,
    long CommittedOffset,
    long HighWatermark,
    long Lag,
    int Unfinished,
    long OldestUnfinishedOffset,
    DateTimeOffset? OldestUnfinishedSince,
    FailingMessage? Failing,
    IReadOnlyList<FailingMessage> FailingAll)
{
    /// <summary>Deprecated: the same as <see cref="Unfinished"/>.</summary>
    [JsonPropertyName("in_flight")]
    public int InFlightDeprecated => Unfinished;

    /// <summary>Offsets fetched past the partition's last successful commit: what a takeover now would deliver again.</summary>
    public long Uncommitted { get; init; }

    /// <summary>True while fetching is paused at <c>max_uncommitted</c> until a commit succeeds.</summary>
    public bool WaitingForCommit { get; init; }

    /// <summary>The instance that owns it (its fleet instance id); null without a <c>fleet</c> section.</summary>
    public string? Instance { get; init; }

    /// <summary><c>blocked</c>, <c>failing</c>, <c>waiting_for_commit</c> or <c>ok</c> (<see cref="RouteHealth.OfPartition"/>).</summary>
    public string Health { get; init; } = "ok";
}

/// <summary>The answer of <c>GET /api/v1/routes</c> on the admin endpoint (a superset of <see cref="RoutesListing"/>).</summary>
internal sealed record RouteInfoListing(IReadOnlyList<RouteInfo> Routes, ReloadResult? LastReload, ReloadResult? LastRejectedReload)
{
    /// <summary>This kcp's instance id in the fleet; null without a <c>fleet</c> section.</summary>
    public string? Instance { get; init; }

    /// <summary>Why the fleet view is incomplete now; null when it is not (or without a fleet).</summary>
    public string? FleetUnavailable { get; init; }

    /// <summary>kcp's version (<c>service.version</c> of the metrics' resource); null in an answer of an older kcp.</summary>
    public string? Version { get; init; }

    /// <summary>This process's <c>service.instance.id</c> (a new UUID at every start; <c>target_info</c> on <c>/metrics</c>).</summary>
    public string? ServiceInstanceId { get; init; }

    /// <summary>The machine's name (<c>host.name</c>).</summary>
    public string? HostName { get; init; }

    /// <summary>This process's id (<c>process.pid</c>).</summary>
    public int? Pid { get; init; }
}

/// <summary>The answer of a partition action (skip, retry).</summary>
internal sealed record PartitionActionResult(string Route, int Partition, long Offset, string Action, string Result, FailingMessage? Message)
{
    /// <summary>Every offset the action covers: <see cref="Offset"/> alone, or each message of the failing batch it heads.</summary>
    public IReadOnlyList<long> Offsets { get; init; } = [Offset];

    /// <summary>The instance that owns the partition, when it is another one (with a fleet).</summary>
    public string? Instance { get; init; }
}

/// <summary>The answer 409 of a partition action whose message is not being retried.</summary>
internal sealed record PartitionConflict(string Error, IReadOnlyList<FailingMessage> Failing);

/// <summary>
/// The status and partition parts of the <c>/api/v1</c> API, mapped with <see cref="RoutesApi"/> (on the control socket
/// and on the admin endpoint), all of it reading <see cref="RouteRegistry"/>, its operator controls and <see cref="RouteObservations"/>:
/// <list type="bullet">
/// <item><c>GET /api/v1/routes</c>, <c>GET /api/v1/routes/{route}</c> (with partitions and failing messages).</item>
/// <item><c>POST /api/v1/routes/{route}/partitions/{p}/skip?offset=o</c> and <c>.../retry?offset=o</c>: 409 unless that
/// message is being retried now.</item>
/// <item><c>POST /api/v1/routes/{route}/seek</c>: moves one partition or all of a route to an offset, a time, or earliest/latest.</item>
/// <item><c>GET /api/v1/skipped?route=R&amp;limit=N</c>: the latest skip records.</item>
/// </list>
/// Every state-changing request (any method but GET and HEAD) is appended to <c>{state_dir}/audit.jsonl</c> and logged.
/// </summary>
internal static class AdminApi
{
    private static readonly TimeSpan SkipPatience = TimeSpan.FromSeconds(10);

    // The members check a seek within SeekRegistry.PlanPatience, then stop the moved partitions' workers.
    private static readonly TimeSpan SeekPatience = TimeSpan.FromSeconds(120);
    private const int MaxSkippedLimit = 1000;
    private const int SkippedTailBytes = 4 * 1024 * 1024;

    public static void Map(RouteGroupBuilder api, RouteRegistry registry, Func<HttpContext, string> who, FleetControl? fleet)
    {
        var observations = registry.Metrics.Observations;
        var audit = new AuditLog(registry.Config.StateDir, registry.Loggers.CreateLogger("kcp.admin"), registry.Time);
        api.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
            {
                var by = who(http);
                http.Response.OnCompleted(() =>
                {
                    audit.Write(by, http.Request.Method, http.Request.Path + http.Request.QueryString, http.Response.StatusCode);
                    fleet?.Audit(by, http.Request.Method, AuditLog.Cut(http.Request.Path + http.Request.QueryString), http.Response.StatusCode);
                    return Task.CompletedTask;
                });
            }

            return await next(context).ConfigureAwait(false);
        });

        api.MapGet("/routes", () => Results.Json(new RouteInfoListing(
            [.. registry.List().Select(s => Info(s, observations, registry.Failing, withPartitions: false, fleet, registry.Metrics.Breaker(s.Route)))], registry.LastReload, registry.LastRejectedReload)
        {
            Instance = fleet?.InstanceId,
            FleetUnavailable = fleet?.Unavailable(),
            Version = TelemetryResource.Version,
            ServiceInstanceId = TelemetryResource.InstanceId,
            HostName = Environment.MachineName,
            Pid = Environment.ProcessId,
        }, ControlJson.Options));
        api.MapGet("/routes/{route}", (string route) => registry.Find(route) is { } status
            ? Results.Json(Info(status, observations, registry.Failing, withPartitions: true, fleet, registry.Metrics.Breaker(route),
                registry.Config.Routes.FirstOrDefault(r => r.Name == route)), ControlJson.Options)
            : NotFound($"no route named '{route}'"));
        api.MapGet("/audit", (int? limit) =>
        {
            var n = Math.Clamp(limit ?? 100, 1, MaxSkippedLimit);
            return fleet is null
                ? Results.Text(ReadSkipped(audit.Path, null, n), "application/json", Encoding.UTF8)
                : Results.Json(fleet.AuditTrail.TakeLast(n).ToList(), ControlJson.Options);
        });
        api.MapPost("/routes/{route}/partitions/{partition:int}/{action}", async (string route, int partition, string action, long? offset, HttpContext context) =>
        {
            if (registry.Find(route) is null)
            {
                return NotFound($"no route named '{route}'");
            }

            if (action is not ("skip" or "retry"))
            {
                return NotFound($"unknown partition action '{action}'; one of: skip, retry");
            }

            if (offset is null)
            {
                return Results.Json(new ControlError("give the offset of the message: ?offset=N (see GET /api/v1/routes/" + route + ")"), ControlJson.Options, statusCode: StatusCodes.Status400BadRequest);
            }

            var entry = registry.Failing.Find(route, partition, offset.Value);
            var failing = registry.Failing.All(route).Where(f => f.Partition == partition).ToList();
            if (entry is null && fleet is not null && !observations.Partitions(route).Any(p => p.Partition == partition))
            {
                // Another instance owns it (or none does now): its owner decides, through the control topic.
                var forwarded = await fleet.Partitions.ForwardAsync(registry.Find(route)!, partition, offset.Value, action, who(context), context.RequestAborted).ConfigureAwait(false);
                return forwarded.Error is { } problem
                    ? Results.Json(forwarded.Status == StatusCodes.Status409Conflict ? new PartitionConflict(problem, forwarded.Failing) : new ControlError(problem), ControlJson.Options, statusCode: forwarded.Status)
                    : Results.Json(new PartitionActionResult(route, partition, offset.Value, action, forwarded.Outcome, forwarded.Message)
                    {
                        Offsets = forwarded.Message?.Offsets is { Count: > 0 } covered ? covered : [offset.Value],
                        Instance = forwarded.Instance,
                    }, ControlJson.Options, statusCode: forwarded.Status);
            }

            if (entry is null)
            {
                var now = failing.Count == 0 ? "none is being retried now" : "being retried now: offset " + string.Join(", ", failing.Select(f => f.Offset));
                return Results.Json(new PartitionConflict($"{route} partition {partition} offset {offset} is not being retried; {now}", failing), ControlJson.Options, statusCode: StatusCodes.Status409Conflict);
            }

            var by = who(context);
            var logger = registry.Loggers.CreateLogger("kcp.admin");
            if (action == "retry")
            {
                Log.RetryNowRequested(logger, route, entry.Record.Topic, partition, offset.Value, by);
                entry.RetryNow();
                var retrying = entry.Snapshot();
                return Results.Json(new PartitionActionResult(route, partition, offset.Value, action, "retrying now", retrying) { Offsets = retrying.Offsets }, ControlJson.Options);
            }

            if (!entry.Skip(by))
            {
                return Results.Json(new PartitionConflict($"{route} partition {partition} offset {offset} is already being skipped (by {entry.SkippedBy})", failing), ControlJson.Options, statusCode: StatusCodes.Status409Conflict);
            }

            // Done once its skip record is on disk and it is no longer failing (bounded: a full disk holds the skip).
            var snapshot = entry.Snapshot();
            var started = registry.Time.GetTimestamp();
            while (registry.Failing.Find(route, partition, offset.Value) is not null && registry.Time.GetElapsedTime(started) < SkipPatience)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), registry.Time, context.RequestAborted).ConfigureAwait(false);
            }

            var done = registry.Failing.Find(route, partition, offset.Value) is null;
            return Results.Json(new PartitionActionResult(route, partition, offset.Value, action, done ? "skipped" : "skip requested; not finished yet", snapshot) { Offsets = snapshot.Offsets }, ControlJson.Options,
                statusCode: done ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
        });
        api.MapPost("/routes/{route}/seek", async (string route, HttpContext context) =>
        {
            if (registry.Find(route) is null)
            {
                return NotFound($"no route named '{route}'");
            }

            if (await ParseSeekAsync(context).ConfigureAwait(false) is not { } target)
            {
                return Results.Json(new ControlError("give {\"partition\": p or null, \"offset\": o}, {\"timestamp\": \"2026-01-01T00:00:00Z\"} or {\"position\": \"earliest\" or \"latest\"}, optionally with \"force\": true"),
                    ControlJson.Options, statusCode: StatusCodes.Status400BadRequest);
            }

            try
            {
                if (fleet is not null && FleetSeek.Remote(registry, fleet, route, target) is { } remote)
                {
                    return await FleetSeek.ForwardAsync(registry, fleet, route, target, remote, who(context), context.RequestAborted).ConfigureAwait(false);
                }

                var moved = await registry.Seeks.SeekAsync(route, target with { By = who(context) }).WaitAsync(SeekPatience, registry.Time, context.RequestAborted).ConfigureAwait(false);
                return Results.Json(new { route, moved }, ControlJson.Options);
            }
            catch (SeekRefusedException ex) when (ex.NotOwnedHere && fleet is not null)
            {
                // No instance owned it when asked: the intent waits on the control topic for the next owner.
                return await FleetSeek.ForwardAsync(registry, fleet, route, target, new FleetSeek.Owners([], null), who(context), context.RequestAborted).ConfigureAwait(false);
            }
            catch (SeekRefusedException ex)
            {
                return Results.Json(new ControlError(ex.Message.ReplaceLineEndings(" ")), ControlJson.Options, statusCode: ex.Status);
            }
            catch (Confluent.Kafka.KafkaException ex)
            {
                return Results.Json(new ControlError(ex.Message.ReplaceLineEndings(" ") + "; nothing moved"), ControlJson.Options, statusCode: StatusCodes.Status400BadRequest);
            }
        });
        api.MapGet("/skipped", (string? route, int? limit) =>
        {
            var n = Math.Clamp(limit ?? 50, 1, MaxSkippedLimit);
            return Results.Text(ReadSkipped(Path.Combine(registry.Config.StateDir, StateDirLayout.SkipLogFile), route, n), "application/json", Encoding.UTF8);
        });
    }

    /// <param name="definition">The route's definition, for its settings in the detail; null: none shown.</param>
    internal static RouteInfo Info(RouteStatus s, RouteObservations observations, FailingMessages retrying, bool withPartitions, FleetControl? fleet = null, BreakerView? breaker = null,
        RouteDefinition? definition = null)
    {
        var partitions = observations.Partitions(s.Route);
        // The lag the broker tells for every partition of the group (kcp offsets show's); the members' own until it is read.
        var broker = observations.GroupLags.Of(s.Route);
        var failing = retrying.All(s.Route);
        var self = fleet?.InstanceId;
        var unavailable = fleet?.Unavailable(s.Cluster);
        // Partitions other instances own (as their latest heartbeats show): every partition this one does not.
        var remote = fleet is null ? [] : fleet.View.Partitions(s.Route, s.Group, fleet.InstanceId).Where(r => !partitions.Any(p => p.Partition == r.Partition.Partition)).ToList();
        List<PartitionInfo>? details = null;
        if (withPartitions)
        {
            details = [.. partitions.Select(p =>
            {
                var mine = failing.Where(f => f.Partition == p.Partition).ToList();
                return new PartitionInfo(p.Topic, p.Partition, p.Member, p.NextOffset, p.CommittedOffset, p.HighWatermark, broker?.Of(p.Partition)?.Lag ?? p.Lag, p.InFlight,
                    p.OldestUnfinishedOffset, p.OldestUnfinishedSince, mine.FirstOrDefault(), mine)
                {
                    Uncommitted = p.Uncommitted,
                    WaitingForCommit = p.WaitingForCommit,
                    Instance = self,
                    Health = RouteHealth.OfPartition(mine, p.WaitingForCommit),
                };
            }).Concat(remote.Select(r => r.Partition).Select((p, i) => new PartitionInfo(p.Topic, p.Partition, p.Member, p.NextOffset, p.CommittedOffset, p.HighWatermark,
                broker?.Of(p.Partition)?.Lag ?? p.Lag, p.InFlight, p.OldestUnfinishedOffset, p.OldestUnfinishedSince, p.Failing.FirstOrDefault(), p.Failing)
            {
                Uncommitted = p.Uncommitted,
                WaitingForCommit = p.WaitingForCommit,
                Instance = remote[i].Instance,
                Health = RouteHealth.OfPartition(p.Failing, p.WaitingForCommit),
            })).OrderBy(p => p.Partition)];
        }

        var (health, detail) = RouteHealth.Of(s, breaker, [.. failing, .. remote.SelectMany(r => r.Partition.Failing)]);
        return new RouteInfo(s, Math.Round(observations.DeliveredPerSecond(s.Route), 3), broker?.Total ?? partitions.Sum(p => p.Lag), partitions.Sum(p => p.InFlight),
            failing.Count + remote.Sum(r => r.Partition.Failing.Count), details)
        {
            Instance = self,
            Instances = withPartitions ? fleet?.View.Instances(s.Route, s.Group, fleet.InstanceId) : null,
            FleetUnavailable = unavailable,
            Breaker = breaker,
            Health = health,
            HealthDetail = detail,
            Settings = withPartitions && definition is not null ? RouteSettingsView.Of(definition) : null,
        };
    }

    private static async Task<SeekTarget?> ParseSeekAsync(HttpContext context)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            int? partition = root.TryGetProperty("partition", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : null;
            long? offset = root.TryGetProperty("offset", out var o) && o.ValueKind == JsonValueKind.Number ? o.GetInt64() : null;
            DateTimeOffset? time = root.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.String ? t.GetDateTimeOffset() : null;
            string? position = root.TryGetProperty("position", out var w) && w.ValueKind == JsonValueKind.String ? w.GetString() : null;
            var force = root.TryGetProperty("force", out var f) && f.ValueKind == JsonValueKind.True;
            var badForce = root.TryGetProperty("force", out f) && f.ValueKind is not (JsonValueKind.True or JsonValueKind.False);
            var given = (offset is null ? 0 : 1) + (time is null ? 0 : 1) + (position is null ? 0 : 1);
            if (given != 1 || badForce || (position is not null && position is not ("earliest" or "latest")) || partition < 0 || offset < 0)
            {
                return null;
            }

            return new SeekTarget(partition, offset, time, position, force);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static IResult NotFound(string error) =>
        Results.Json(new ControlError(error), ControlJson.Options, statusCode: StatusCodes.Status404NotFound);

    /// <summary>The last <paramref name="limit"/> records (of <paramref name="route"/> when given), newest last, as a JSON array.</summary>
    internal static string ReadSkipped(string path, string? route, int limit)
    {
        var lines = new List<string>();
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, file.Length - SkippedTailBytes);
            file.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(file, Encoding.UTF8);
            if (start > 0)
            {
                // Part of a line.
                reader.ReadLine();
            }

            while (reader.ReadLine() is { } line)
            {
                lines.Add(line);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return "[]";
        }

        var picked = new List<JsonElement>();
        for (var i = lines.Count - 1; i >= 0 && picked.Count < limit; i--)
        {
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                if (route is null || (doc.RootElement.TryGetProperty("route", out var r) && r.GetString() == route))
                {
                    picked.Add(doc.RootElement.Clone());
                }
            }
            catch (JsonException)
            {
                // A torn line left by a crash of the machine: not a record.
            }
        }

        picked.Reverse();
        return JsonSerializer.Serialize(picked, ControlJson.Options);
    }
}
