namespace KafkaConsumerProxy.Fleet;

/// <summary>
/// The bookkeeping of one kind of intent sent through the control topic (<see cref="FleetPartitions"/>,
/// <see cref="FleetSeeks"/>): the intents read and not yet answered, by key; those being applied here now, so that none
/// is applied twice at once; and the requests asked here that wait for their result, by id. Thread-safe.
/// </summary>
internal sealed class ControlIntents
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (string Cluster, ControlRecord Intent)> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<string> _handling = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<ControlRecord>> _waiting = new(StringComparer.Ordinal);

    /// <summary>A new request id and the task its result completes; <see cref="StopWaiting"/> it when done.</summary>
    public (string Id, Task<ControlRecord> Answer) Ask()
    {
        var id = Guid.NewGuid().ToString("N");
        var answer = new TaskCompletionSource<ControlRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
            _waiting[id] = answer;
        return (id, answer.Task);
    }

    public void StopWaiting(string id)
    {
        lock (_gate)
            _waiting.Remove(id);
    }

    /// <summary>A result read from a control topic: answers the request waiting for it, if it was asked here.</summary>
    public void Answered(ControlRecord result)
    {
        TaskCompletionSource<ControlRecord>? waiting;
        lock (_gate)
            _waiting.TryGetValue(result.Id!, out waiting);
        waiting?.TrySetResult(result);
    }

    /// <summary>An intent read from <paramref name="cluster"/>'s control topic, kept until its key is deleted.</summary>
    public void Add(string cluster, string key, ControlRecord intent)
    {
        lock (_gate)
            _pending[key] = (cluster, intent);
    }

    /// <summary>An intent's key deleted: it was answered.</summary>
    public void Forget(string key)
    {
        lock (_gate)
        {
            _pending.Remove(key);
            _handling.Remove(key);
        }
    }

    /// <summary>
    /// The pending intents, in the order read, that are not being applied and that <paramref name="isDue"/> accepts
    /// (called under the lock); each is marked as being applied until <see cref="Release"/> or <see cref="Forget"/>.
    /// </summary>
    public List<(string Key, string Cluster, ControlRecord Intent)> Take(Func<ControlRecord, bool> isDue)
    {
        List<(string Key, string Cluster, ControlRecord Intent)> due = [];
        lock (_gate)
        {
            foreach (var (key, (cluster, intent)) in _pending)
            {
                if (_handling.Contains(key) || !isDue(intent))
                    continue;
                _handling.Add(key);
                due.Add((key, cluster, intent));
            }
        }

        return due;
    }

    /// <summary>An intent taken but not answered here (moved away, topic unusable): it may be taken again.</summary>
    public void Release(string key)
    {
        lock (_gate)
            _handling.Remove(key);
    }
}
