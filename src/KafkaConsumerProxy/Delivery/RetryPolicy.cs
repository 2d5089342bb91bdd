using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>What happens to a message after a failed attempt.</summary>
public enum RetryDecision
{
    Retry,
    Skip,
}

/// <summary>The route's retry and skip rules, kept apart from the loop so they can be read and tested alone.</summary>
public static class RetryPolicy
{
    /// <summary>A message still failing after this many attempts is reported as blocked.</summary>
    public const int BlockedAfterAttempts = 10;

    /// <summary>A blocked message is reported again at most this often, not on every attempt.</summary>
    public static readonly TimeSpan BlockedReportInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The shortest wait between two attempts of a message or batch (10 ms), whatever <c>retry_interval_ms</c> says:
    /// <c>retry_interval_ms: 0</c> against an endpoint that fails at once would otherwise spin a core and send
    /// thousands of requests a second. 10 ms bounds a failing message to 100 attempts a second.
    /// </summary>
    public static readonly TimeSpan MinRetryInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The wait between attempts: <c>retry_interval_ms</c>, but at least <see cref="MinRetryInterval"/>.</summary>
    public static TimeSpan RetryInterval(RouteDefinition route)
    {
        var configured = TimeSpan.FromMilliseconds(route.RetryIntervalMs);
        return configured > MinRetryInterval ? configured : MinRetryInterval;
    }

    /// <summary>
    /// <c>can_skip: false</c> retries forever (the partition waits); <c>can_skip: true</c> skips after
    /// <c>retry_nums</c> retries, i.e. after <c>retry_nums + 1</c> attempts.
    /// </summary>
    public static RetryDecision AfterFailure(RouteDefinition route, int attempts) =>
        route.CanSkip && attempts >= (long)route.RetryNums + 1 ? RetryDecision.Skip : RetryDecision.Retry;
}

/// <summary>
/// The failure history of one message (or batch) in the delivery loop: when it started failing, when it was last
/// reported blocked, and the manual-skip token it took when it started failing.
/// </summary>
internal struct FailureHistory(TimeProvider time, ManualSkipSignal manualSkip)
{
    private long _firstFailure;
    private long _lastBlockedReport;

    /// <summary>Cancelled when the operator asks to skip what is being retried (SIGUSR1).</summary>
    public CancellationToken ManualSkip { get; private set; }

    /// <summary>Records failed attempt <paramref name="attempt"/>; true when a blocked report is due now.</summary>
    public bool OnFailure(int attempt, out TimeSpan failingFor)
    {
        var now = time.GetTimestamp();
        if (attempt == 1)
        {
            _firstFailure = now;
            ManualSkip = manualSkip.Token;
        }

        failingFor = time.GetElapsedTime(_firstFailure, now);
        if (attempt < RetryPolicy.BlockedAfterAttempts
            || (_lastBlockedReport != 0 && time.GetElapsedTime(_lastBlockedReport, now) < RetryPolicy.BlockedReportInterval))
        {
            return false;
        }

        _lastBlockedReport = now;
        return true;
    }
}
