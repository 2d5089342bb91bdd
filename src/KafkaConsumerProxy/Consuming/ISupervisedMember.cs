namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What a route's supervisor (<c>Routes/RouteSupervisor</c>) needs of one group member (<see cref="RouteMember"/> in kcp; a fake
/// in the supervisor's unit tests, which drive backoff with a fake clock).
/// </summary>
internal interface ISupervisedMember
{
    /// <summary>
    /// Runs until <paramref name="stop"/> is cancelled, then finishes in-flight work, commits and leaves the group.
    /// A fault (a fatal client error, an exception) ends the task with that exception, after the same clean-up.
    /// </summary>
    Task RunAsync(CancellationToken stop);

    /// <summary>
    /// Pauses (stop fetching and starting deliveries; attempts in flight finish and are committed; the member stays in
    /// the group) or resumes. A pause holds from the moment this returns: no delivery starts after it. The task
    /// completes when the member has applied it, or when it is not running.
    /// </summary>
    Task SetPausedAsync(bool paused);

    /// <summary>How many partitions the member owns now (0 before it has joined the group, or when it has none).</summary>
    int AssignedPartitions { get; }
}
