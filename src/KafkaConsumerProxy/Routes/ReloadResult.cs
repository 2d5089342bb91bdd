namespace KafkaConsumerProxy.Routes;

/// <summary>
/// The outcome of one reload: accepted (with what changed) or rejected (with every error, as <c>kcp validate</c>
/// prints them; nothing changed).
/// </summary>
public sealed record ReloadResult(
    DateTimeOffset At,
    string Trigger,
    bool Accepted,
    IReadOnlyList<string> Errors,
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Removed,
    IReadOnlyList<string> Changed,
    IReadOnlyList<string> Unchanged,
    IReadOnlyList<string> NeedRestart);
