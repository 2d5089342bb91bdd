namespace KafkaConsumerProxy.Routes;

/// <summary>
/// The outcome of one reload: accepted (with what changed) or rejected (with every error, as <c>kcp validate</c>
/// prints them; nothing changed). A reload answers without waiting for routes to stop: <see cref="InProgress"/> says
/// what still goes on.
/// </summary>
internal sealed record ReloadResult(
    DateTimeOffset At,
    string Trigger,
    bool Accepted,
    IReadOnlyList<string> Errors,
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Removed,
    IReadOnlyList<string> Changed,
    IReadOnlyList<string> Unchanged,
    IReadOnlyList<string> NeedRestart)
{
    /// <summary>
    /// What reloads still do (routes stopping, routes waiting for them to start), one line each: as of the answer, and
    /// as of now in <c>GET /api/v1/reload</c> and <c>GET /api/v1/routes</c>.
    /// </summary>
    public IReadOnlyList<string> InProgress { get; init; } = [];
}
