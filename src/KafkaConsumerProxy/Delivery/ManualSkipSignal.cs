namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The operator's "skip what is stuck" request (SIGUSR1). A message that starts failing takes the current
/// token; <see cref="Trigger"/> cancels it and hands out a fresh one, so only messages that were already being
/// retried are skipped, never the ones that come after.
/// </summary>
public sealed class ManualSkipSignal
{
    private CancellationTokenSource _current = new();

    public CancellationToken Token => Volatile.Read(ref _current).Token;

    public void Trigger()
    {
        // The old source is not disposed: workers may still link to its token.
        var old = Interlocked.Exchange(ref _current, new CancellationTokenSource());
        old.Cancel();
    }
}
