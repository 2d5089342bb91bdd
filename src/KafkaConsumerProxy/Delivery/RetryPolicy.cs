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
    /// <c>can_skip: false</c> retries forever (the partition waits); <c>can_skip: true</c> skips after
    /// <c>retry_nums</c> retries, i.e. after <c>retry_nums + 1</c> attempts.
    /// </summary>
    public static RetryDecision AfterFailure(RouteDefinition route, int attempts) =>
        route.CanSkip && attempts >= (long)route.RetryNums + 1 ? RetryDecision.Skip : RetryDecision.Retry;
}
