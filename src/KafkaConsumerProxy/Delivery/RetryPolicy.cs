using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>What happens to a message after a failed attempt.</summary>
public enum RetryDecision
{
    Retry,
    Skip,
}

/// <summary>The route's retry and skip rules, kept apart from the loop so they can be read and tested alone.</summary>
internal static class RetryPolicy
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

    /// <summary>
    /// <c>can_skip: false</c> retries forever (the partition waits); <c>can_skip: true</c> skips after
    /// <c>retry_nums</c> retries, i.e. after <c>retry_nums + 1</c> attempts.
    /// </summary>
    public static RetryDecision AfterFailure(RouteDefinition route, int attempts) =>
        route.Retry.CanSkip && attempts >= (long)route.Retry.RetryNums + 1 ? RetryDecision.Skip : RetryDecision.Retry;

    /// <summary>
    /// As <see cref="AfterFailure(RouteDefinition, int)"/>, and with <c>can_skip: true</c> an answer whose status is in
    /// <c>skip_on_status</c> skips at once (<see cref="SkipKind.Status"/>). With <c>can_skip: false</c> such an answer is
    /// retried like any failure: nothing is ever skipped on a route that forbids it.
    /// </summary>
    public static (RetryDecision Decision, SkipKind Kind) AfterFailure(RouteDefinition route, int attempts, int? status, DeliveryOutcome outcome = DeliveryOutcome.BadStatus)
    {
        // A record that cannot be decoded will not be decodable on a retry: skipped at once where the route allows it.
        // A registry outage is nobody's message's fault: waited out, never skipped for.
        if (outcome == DeliveryOutcome.DecodeError && route.Retry.CanSkip)
        {
            return (RetryDecision.Skip, SkipKind.Decode);
        }

        if (outcome == DeliveryOutcome.RegistryUnavailable)
        {
            return (RetryDecision.Retry, SkipKind.Auto);
        }

        if (route.Retry.CanSkip && status is { } code && route.Retry.SkipOnStatus.Contains(code))
        {
            return (RetryDecision.Skip, SkipKind.Status);
        }

        return (AfterFailure(route, attempts), SkipKind.Auto);
    }

    /// <summary>
    /// The wait after failed attempt <paramref name="attempt"/> (1 for the first):
    /// <list type="bullet">
    /// <item>with a <c>Retry-After</c> answer (<paramref name="retryAfter"/>), what it asked for, but within
    /// [<c>retry_interval_ms</c>, <c>retry_max_interval_ms</c>];</item>
    /// <item><c>retry_backoff: constant</c>: <c>retry_interval_ms</c>;</item>
    /// <item><c>retry_backoff: exponential</c>: <c>retry_interval_ms × 2^(attempt-1)</c> capped at
    /// <c>retry_max_interval_ms</c>, then drawn between half of that and all of it (<paramref name="random"/> in [0, 1)
    /// picks where), never below <c>retry_interval_ms</c>.</item>
    /// </list>
    /// Always at least <see cref="MinRetryInterval"/>.
    /// </summary>
    public static TimeSpan Delay(RetrySettings retry, int attempt, TimeSpan? retryAfter, double random)
    {
        var interval = TimeSpan.FromMilliseconds(retry.RetryIntervalMs);
        var max = TimeSpan.FromMilliseconds(Math.Max(retry.RetryMaxIntervalMs, retry.RetryIntervalMs));
        TimeSpan delay;
        if (retryAfter is { } asked)
        {
            delay = asked < interval ? interval : asked > max ? max : asked;
        }
        else if (retry.Backoff == RetryBackoff.Constant)
        {
            delay = interval;
        }
        else
        {
            // 2^(attempt-1) overflows nothing: the exponent is bounded where the cap is certainly reached.
            var factor = Math.Pow(2, Math.Min(attempt - 1, 62));
            var cappedMs = Math.Min(retry.RetryIntervalMs * factor, max.TotalMilliseconds);
            var jitteredMs = cappedMs * (0.5 + (0.5 * Math.Clamp(random, 0, 1)));
            delay = TimeSpan.FromMilliseconds(Math.Max(jitteredMs, retry.RetryIntervalMs));
        }

        return delay > MinRetryInterval ? delay : MinRetryInterval;
    }

    /// <summary>Whether an answer with <paramref name="status"/> may carry a <c>Retry-After</c> that kcp honours (429, 503).</summary>
    public static bool HonoursRetryAfter(int? status) => status is 429 or 503;

    /// <summary>
    /// Waits <paramref name="delay"/>, to the millisecond (timers count whole milliseconds). Timers run on the coarse
    /// monotonic clock and may end a few milliseconds before the clock's timestamps say the delay has passed; what is
    /// left is waited out, so that a wait an endpoint asked for (<c>Retry-After</c>) is never cut short.
    /// </summary>
    public static async Task WaitAtLeastAsync(TimeSpan delay, TimeProvider time, CancellationToken token)
    {
        var started = time.GetTimestamp();
        delay = WholeMilliseconds(delay);
        for (var left = delay; left > TimeSpan.Zero; left = delay - time.GetElapsedTime(started))
        {
            await Task.Delay(WholeMilliseconds(left), time, token).ConfigureAwait(false);
        }

        static TimeSpan WholeMilliseconds(TimeSpan span) => TimeSpan.FromMilliseconds(Math.Ceiling(span.TotalMilliseconds));
    }
}

/// <summary>Why a message was skipped: <c>kcp.dlq.kind</c> and the skip record.</summary>
public enum SkipKind
{
    /// <summary><c>auto</c>: <c>retry_nums</c> retries failed.</summary>
    Auto,

    /// <summary><c>status</c>: the endpoint answered a status of <c>skip_on_status</c>.</summary>
    Status,

    /// <summary><c>manual</c>: the operator asked to skip (SIGUSR1, or the admin API or CLI, whose skip records carry <c>by</c>).</summary>
    Manual,

    /// <summary><c>seek</c>: an operator's seek with <c>force</c> moved the partition past the unfinished message.</summary>
    Seek,

    /// <summary><c>endpoint</c>: the endpoint's answer asked for it (<c>Kcp-Action: skip</c> or <c>dead-letter</c>).</summary>
    Endpoint,

    /// <summary><c>decode</c>: with <c>can_skip: true</c>, a key or value the route's <c>value_format</c>/<c>key_format</c> cannot decode.</summary>
    Decode,
}

/// <summary>
/// The failure history of one message (or batch) in the delivery loop: when it started failing, when it was last
/// reported blocked, and the manual-skip token it took when it started failing.
/// </summary>
internal struct FailureHistory(TimeProvider time, ManualSkipSignal manualSkip)
{
    private long _firstFailure;
    private long _lastBlockedReport;

    private ManualSkipSignal.Held? _held;

    /// <summary>Cancelled when the operator asks to skip what is being retried (SIGUSR1); taken at the first failure.</summary>
    public readonly CancellationToken ManualSkip => _held?.Token ?? CancellationToken.None;

    /// <summary>The message is finished: the operator's next request no longer counts it as being retried.</summary>
    public void Release()
    {
        _held?.Release();
        _held = null;
    }

    /// <summary>Records failed attempt <paramref name="attempt"/>; true when a blocked report is due now.</summary>
    public bool OnFailure(int attempt, out TimeSpan failingFor)
    {
        var now = time.GetTimestamp();
        if (attempt == 1)
        {
            _firstFailure = now;
            _held ??= manualSkip.Take();
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
