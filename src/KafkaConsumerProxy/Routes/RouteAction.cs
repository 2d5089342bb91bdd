namespace KafkaConsumerProxy.Routes;

/// <summary>An operator's request on routes (the old service's start/stop/restart, plus pause and resume).</summary>
internal enum RouteAction
{
    /// <summary>Stop fetching and starting deliveries; attempts in flight finish and are committed; members stay in the group.</summary>
    Pause,

    /// <summary>Undo a pause.</summary>
    Resume,

    /// <summary>Finish, commit, leave the group; the route stays stopped (also across restarts of kcp).</summary>
    Stop,

    /// <summary>Start a stopped route, or a failed one without waiting for its backoff.</summary>
    Start,

    /// <summary>Stop, then start (a pause stays in force).</summary>
    Restart,
}

/// <summary>
/// Which routes an operation applies to: one by <paramref name="Route"/> name, every route of <paramref name="Topic"/>
/// (and of <paramref name="Group"/> when given), or <paramref name="All"/>.
/// </summary>
internal sealed record RouteSelector(string? Route = null, string? Topic = null, string? Group = null, bool All = false)
{
    /// <summary>The selector as the operator wrote it, for messages.</summary>
    public override string ToString() =>
        All ? "--all" : Route is not null ? $"route {Route}" : Group is null ? $"--topic {Topic}" : $"--topic {Topic} --group {Group}";
}

/// <summary>The result of an operation: the routes it applied to, with their state afterwards, or why none.</summary>
internal sealed record RouteOperationResult(RouteAction Action, IReadOnlyList<RouteStatus> Routes, string? Error);
