using System.Globalization;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// A route's health as the routes API and the dashboard show it: one word derived from its supervisor state, its circuit
/// breaker and its partitions' failing messages, worst first, so that a route whose partitions are blocked never reads
/// as a plain "running":
/// <list type="number">
/// <item><c>failed</c>: a member failed; the route waits out its restart backoff.</item>
/// <item><c>stopped</c>: stopped by an operator (or kcp stops).</item>
/// <item><c>paused</c>: paused by an operator (or by the endpoint's <c>Kcp-Action: pause</c>).</item>
/// <item><c>starting</c>, <c>restarting</c>: its members are being created.</item>
/// <item><c>breaker_open</c>: its circuit breaker is open or half-open: only probes are sent.</item>
/// <item><c>blocked</c>: a partition's failing message has failed <see cref="RetryPolicy.BlockedAfterAttempts"/> times
/// or more (as the log's "is blocked" line says); the messages behind it wait.</item>
/// <item><c>failing</c>: messages are being retried, none that often yet.</item>
/// <item><c>running</c>: none of the above.</item>
/// </list>
/// </summary>
internal static class RouteHealth
{
    /// <summary>The health words, worst first.</summary>
    public static readonly string[] Names = ["failed", "stopped", "paused", "starting", "restarting", "breaker_open", "blocked", "failing", "running"];

    /// <summary>The health of <paramref name="status"/>'s route and a line saying why (the partitions blocked and failing).</summary>
    /// <param name="failing">Every message of the route being retried now, in every partition shown (with a fleet, other instances' too).</param>
    public static (string Health, string Detail) Of(RouteStatus status, BreakerView? breaker, IReadOnlyCollection<FailingMessage> failing)
    {
        var blocked = failing.Where(f => f.Attempts >= RetryPolicy.BlockedAfterAttempts).Select(f => f.Partition).Distinct().Count();
        var retrying = failing.Select(f => f.Partition).Distinct().Count() - blocked;
        var parts = new List<string>();
        if (breaker is { State: not "closed" } b)
        {
            parts.Add($"breaker {b.State}");
        }

        if (blocked > 0)
        {
            parts.Add(Count(blocked, "partition") + " blocked");
        }

        if (retrying > 0)
        {
            parts.Add(Count(retrying, "partition") + " failing");
        }

        var health = status.State switch
        {
            RouteState.Failed => "failed",
            RouteState.Stopped => "stopped",
            RouteState.Paused => "paused",
            RouteState.Starting => "starting",
            RouteState.Restarting => "restarting",
            _ when breaker is { State: not "closed" } => "breaker_open",
            _ when blocked > 0 => "blocked",
            _ when retrying > 0 => "failing",
            _ => "running",
        };
        return (health, string.Join(", ", parts));
    }

    /// <summary>
    /// A partition's health: <c>blocked</c> (a message failed <see cref="RetryPolicy.BlockedAfterAttempts"/> times or
    /// more), <c>failing</c> (messages are being retried), <c>waiting_for_commit</c> (fetching paused at
    /// <c>max_uncommitted</c> until a commit succeeds) or <c>ok</c>.
    /// </summary>
    public static string OfPartition(IReadOnlyCollection<FailingMessage> failing, bool waitingForCommit) =>
        failing.Any(f => f.Attempts >= RetryPolicy.BlockedAfterAttempts) ? "blocked"
        : failing.Count > 0 ? "failing"
        : waitingForCommit ? "waiting_for_commit"
        : "ok";

    private static string Count(int n, string what) => n.ToString(CultureInfo.InvariantCulture) + " " + what + (n == 1 ? "" : "s");
}
