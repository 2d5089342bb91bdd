using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Spreads messages over a route's hosts round-robin and moves each retry of a message to the next host,
/// so one dead host delays a message by one attempt instead of stalling its partition.
/// </summary>
internal sealed class HostSelector
{
    private readonly Uri[] _targets;
    private readonly string[] _authorities;
    private int _next = -1;

    /// <param name="targets">The request URL of each host (<see cref="EndpointSettings.Targets"/>).</param>
    public HostSelector(Uri[] targets)
    {
        _targets = targets;
        _authorities = [.. targets.Select(t => t.Authority)];
    }

    public int Count => _targets.Length;

    /// <summary>Chooses the first host of a new message; pass the result to <see cref="Target"/> on each attempt.</summary>
    public int NextSlot() => Interlocked.Increment(ref _next) & int.MaxValue;

    /// <summary>The target of attempt <paramref name="attempt"/> (1-based) of the message given <paramref name="slot"/>.</summary>
    public Uri Target(int slot, int attempt) => _targets[Index(slot, attempt)];

    /// <summary>The <c>host:port</c> of <see cref="Target"/>, for logs and delivery results.</summary>
    public string Authority(int slot, int attempt) => _authorities[Index(slot, attempt)];

    private int Index(int slot, int attempt) => (int)(((long)slot + attempt - 1) % _targets.Length);
}
