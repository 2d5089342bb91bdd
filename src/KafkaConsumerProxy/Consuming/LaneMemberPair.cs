namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// One member of a route with a retry lane (<c>retry_topic</c>): the member of the route's own topic and the member of
/// its retry topic (group <c>{group}.retry</c>), run, paused and stopped together. A fault of either stops both, so the
/// route's supervisor restarts them as one. Its partitions are the route topic's alone: the lane's are not the route's
/// topic (which a mode 3 route's sole-instance watch counts against).
/// </summary>
internal sealed class LaneMemberPair(ISupervisedMember route, ISupervisedMember lane) : ISupervisedMember
{
    /// <inheritdoc />
    public int AssignedPartitions => route.AssignedPartitions;

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken stop)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Task[] running = [route.RunAsync(both.Token), lane.RunAsync(both.Token)];
        try
        {
            await Task.WhenAny(running).ConfigureAwait(false);
        }
        finally
        {
            // Whichever ended (asked to, or by a fault), the other finishes, commits and leaves too.
            await both.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task SetPausedAsync(bool paused) => Task.WhenAll(route.SetPausedAsync(paused), lane.SetPausedAsync(paused));
}
