namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The time before which no request of a route may start, set by an endpoint's <c>Retry-After</c> on 429 and 503: the
/// endpoint asked the route to wait, not only the message that was refused. One instance per route, shared by all its
/// members and partitions. Only moves forward: a shorter wait asked later does not cut a longer one short.
/// </summary>
internal sealed class EndpointGate(TimeProvider time)
{
    private long _notBeforeUtcTicks;

    /// <summary>The earliest start of the next request; <see cref="DateTimeOffset.MinValue"/> when never deferred.</summary>
    public DateTimeOffset NotBefore => new(Interlocked.Read(ref _notBeforeUtcTicks), TimeSpan.Zero);

    /// <summary>No request starts before <paramref name="delay"/> from now.</summary>
    public void Defer(TimeSpan delay)
    {
        var until = (time.GetUtcNow() + delay).UtcTicks;
        var seen = Interlocked.Read(ref _notBeforeUtcTicks);
        while (until > seen)
        {
            var previous = Interlocked.CompareExchange(ref _notBeforeUtcTicks, until, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>Waits until <see cref="NotBefore"/> has passed, however often it moves meanwhile.</summary>
    public async ValueTask WaitAsync(CancellationToken cancel)
    {
        while (true)
        {
            var remaining = NotBefore - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(remaining, time, cancel).ConfigureAwait(false);
        }
    }
}
