namespace KafkaConsumerProxy.Routes;

/// <summary>Where a supervised route is in its life; see <see cref="RouteSupervisor"/> for the transitions.</summary>
internal enum RouteState
{
    /// <summary>Its members are being created and join the group for the first time.</summary>
    Starting,

    /// <summary>Its members consume and deliver.</summary>
    Running,

    /// <summary>Its members stay in the group but fetch nothing and start no delivery (operator pause).</summary>
    Paused,

    /// <summary>It has no members: stopped by the operator, by a reload that removed it, or because kcp stops.</summary>
    Stopped,

    /// <summary>A member failed; the route waits out its restart backoff. The reason and time are in the status.</summary>
    Failed,

    /// <summary>Its members are being created again after a failure or an operator restart.</summary>
    Restarting,
}
