using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>The pure retry rules: waits per backoff, Retry-After bounds, skip_on_status.</summary>
public sealed class RetryPolicyTests
{
    private static readonly RetrySettings Exponential = new() { RetryIntervalMs = 100, RetryMaxIntervalMs = 1_000, Backoff = RetryBackoff.Exponential };

    [Fact]
    public void Delay_Constant_RetryIntervalEveryTime_Issue10()
    {
        var retry = new RetrySettings { RetryIntervalMs = 250 };
        Assert.Equal(RetryBackoff.Constant, retry.Backoff);
        Assert.Equal(60_000, retry.RetryMaxIntervalMs);
        foreach (var attempt in new[] { 1, 2, 10, 1000 })
        {
            Assert.Equal(TimeSpan.FromMilliseconds(250), RetryPolicy.Delay(retry, attempt, null, 0.99));
        }
    }

    [Theory]
    [InlineData(1, 100, 100)]
    [InlineData(2, 100, 200)]
    [InlineData(3, 200, 400)]
    [InlineData(4, 400, 800)]
    [InlineData(5, 500, 1000)]
    [InlineData(6, 500, 1000)]
    [InlineData(int.MaxValue, 500, 1000)]
    public void Delay_Exponential_DoublesWithJitterAndIsCapped_Issue10(int attempt, int lowMs, int highMs)
    {
        // random 0 gives the lowest wait, random just under 1 the highest: half of the capped doubling to all of it.
        Assert.Equal(TimeSpan.FromMilliseconds(lowMs), RetryPolicy.Delay(Exponential, attempt, null, 0));
        Assert.InRange(RetryPolicy.Delay(Exponential, attempt, null, 0.999_999).TotalMilliseconds, highMs - 0.01, highMs);
        var draws = Enumerable.Range(0, 200).Select(_ => RetryPolicy.Delay(Exponential, attempt, null, Random.Shared.NextDouble()).TotalMilliseconds).ToList();
        Assert.All(draws, d => Assert.InRange(d, lowMs, highMs));
    }

    [Theory]
    [InlineData(700, 700)]
    [InlineData(3_000, 1_000)]
    [InlineData(0, 100)]
    [InlineData(50, 100)]
    [InlineData(5_000_000, 1_000)]
    public void Delay_RetryAfter_WithinIntervalAndMax_Issue10(int askedMs, int expectedMs)
    {
        var constant = Exponential with { Backoff = RetryBackoff.Constant };
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RetryPolicy.Delay(constant, 7, TimeSpan.FromMilliseconds(askedMs), 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RetryPolicy.Delay(Exponential, 7, TimeSpan.FromMilliseconds(askedMs), 0.5));
    }

    [Fact]
    public void Delay_ZeroInterval_KeepsTheFloor_Issue10()
    {
        var zero = new RetrySettings { RetryIntervalMs = 0, Backoff = RetryBackoff.Exponential };
        Assert.Equal(RetryPolicy.MinRetryInterval, RetryPolicy.Delay(zero, 5, null, 0.5));
        Assert.Equal(RetryPolicy.MinRetryInterval, RetryPolicy.Delay(zero, 1, TimeSpan.Zero, 0.5));
    }

    [Theory]
    [InlineData(true, 404, 1, RetryDecision.Skip, SkipKind.Status)]
    [InlineData(true, 500, 1, RetryDecision.Retry, SkipKind.Auto)]
    [InlineData(true, 500, 4, RetryDecision.Skip, SkipKind.Auto)]
    [InlineData(false, 404, 1, RetryDecision.Retry, SkipKind.Auto)]
    [InlineData(false, 404, 100, RetryDecision.Retry, SkipKind.Auto)]
    public void AfterFailure_SkipOnStatus_OnlyWithCanSkip_Issue10(bool canSkip, int status, int attempts, RetryDecision decision, SkipKind kind)
    {
        var route = TestRoutes.Route() with { Retry = TestRoutes.Retry with { CanSkip = canSkip, RetryNums = 3 } };
        route = route with { Retry = route.Retry with { SkipOnStatus = new HashSet<int> { 404, 410 } } };
        Assert.Equal((decision, kind), RetryPolicy.AfterFailure(route, attempts, status));
    }

    [Theory]
    [InlineData(429, true)]
    [InlineData(503, true)]
    [InlineData(500, false)]
    [InlineData(200, false)]
    public void HonoursRetryAfter_Only429And503_Issue10(int status, bool honoured) =>
        Assert.Equal(honoured, RetryPolicy.HonoursRetryAfter(status));
}
