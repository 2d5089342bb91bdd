using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Routes;

/// <summary>A snapshot of one route for <c>kcp routes list</c> and the <c>/api/v1/routes</c> endpoints.</summary>
/// <param name="Route">The route's name (its file name without extension).</param>
/// <param name="State">The current state.</param>
/// <param name="Since">When the route entered <paramref name="State"/>.</param>
/// <param name="Cause">Why it entered it (operator request, failure reason, reload, ...).</param>
/// <param name="OperatorPaused">An operator's pause is in force (kept across restarts of kcp).</param>
/// <param name="OperatorStopped">An operator's stop is in force (kept across restarts of kcp).</param>
/// <param name="Failures">Failures in a row since the route last ran healthy or an operator started it.</param>
/// <param name="NextRestart">When a failed route is started again; null unless <see cref="RouteState.Failed"/>.</param>
/// <param name="LastError">The latest error a member reported (Kafka client, topic, or the failure), if any.</param>
/// <param name="LastErrorAt">When <paramref name="LastError"/> was reported.</param>
/// <param name="AssignedPartitions">Partitions the route's members of this process own now.</param>
internal record RouteStatus(
    string Route,
    string Topic,
    string Group,
    string Cluster,
    int Members,
    RouteState State,
    DateTimeOffset Since,
    string Cause,
    bool OperatorPaused,
    bool OperatorStopped,
    int Failures,
    DateTimeOffset? NextRestart,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int AssignedPartitions)
{
    /// <summary>
    /// The route's requests have waited at least a second for its shared budget (<c>limit</c>): which budget, how many
    /// requests, since when, and the routes holding its slots when all are taken. Null when not waiting.
    /// </summary>
    public BudgetWait? WaitingForBudget { get; init; }
}
