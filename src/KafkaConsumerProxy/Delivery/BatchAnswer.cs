namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// What the JSON answer to a batch asked for some of its messages (docs/ASYNC-FORMATS-BATCHING.md, "The answer"): the
/// offsets of its top-level <c>retry</c> list, and the per-message actions of its top-level <c>actions</c> object
/// (<c>{"101":"skip","105":"dead-letter"}</c>). A message the answer does not name is delivered. Filled by
/// <see cref="ResponseClassifier.ClassifyBatch"/> for a successful answer only; reused for every attempt of a batch.
/// </summary>
internal sealed class BatchAnswer
{
    private readonly List<long> _retry = [];
    private readonly Dictionary<long, EndpointAction> _actions = [];
    private bool _sorted;

    /// <summary>The offsets of the <c>retry</c> list, as given (an offset may be named twice).</summary>
    public IReadOnlyList<long> RetryList => _retry;

    /// <summary>The <c>actions</c> object: offset → <c>retry</c>, <c>skip</c>, <c>dead-letter</c> or <c>commit</c>.</summary>
    public IReadOnlyDictionary<long, EndpointAction> Actions => _actions;

    /// <summary>Nothing named: every message of the batch is delivered.</summary>
    public bool IsEmpty => _retry.Count == 0 && _actions.Count == 0;

    /// <summary>Some message is to be written to the dead-letter topic.</summary>
    public bool AsksDeadLetter => _actions.ContainsValue(EndpointAction.DeadLetter);

    public void Clear()
    {
        _retry.Clear();
        _actions.Clear();
        _sorted = false;
    }

    internal void AddRetry(long offset)
    {
        _retry.Add(offset);
        _sorted = false;
    }

    /// <summary>Adds one entry of <c>actions</c>; false when the offset was named before for another action.</summary>
    internal bool AddAction(long offset, EndpointAction action) =>
        _actions.TryAdd(offset, action) || _actions[offset] == action;

    /// <summary>
    /// What the answer asked for the message at <paramref name="offset"/>: <see cref="EndpointAction.Retry"/>,
    /// <see cref="EndpointAction.Skip"/> or <see cref="EndpointAction.DeadLetter"/>; <see cref="EndpointAction.None"/>
    /// (delivered) when it is not named or named <c>commit</c>.
    /// </summary>
    public EndpointAction For(long offset)
    {
        if (_actions.TryGetValue(offset, out var action))
        {
            return action == EndpointAction.Commit ? EndpointAction.None : action;
        }

        if (_retry.Count == 0)
        {
            return EndpointAction.None;
        }

        if (!_sorted)
        {
            _retry.Sort();
            _sorted = true;
        }

        return _retry.BinarySearch(offset) >= 0 ? EndpointAction.Retry : EndpointAction.None;
    }

    /// <summary>An offset named both in <c>retry</c> and in <c>actions</c> for anything but <c>retry</c>; null when none is.</summary>
    internal long? Conflict()
    {
        foreach (var offset in _retry)
        {
            if (_actions.TryGetValue(offset, out var action) && action != EndpointAction.Retry)
            {
                return offset;
            }
        }

        return null;
    }
}
