using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Tests.Routes;

public sealed class RestartBackoffTests
{
    [Fact]
    public void NextDelay_FailuresInARow_DoubleFromOneSecondUpToSixty()
    {
        var backoff = new RestartBackoff();
        var delays = Enumerable.Range(0, 9).Select(_ => backoff.NextDelay(TimeSpan.FromSeconds(2)).TotalSeconds).ToList();

        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60], delays);
        Assert.Equal(9, backoff.Failures);
    }

    [Fact]
    public void NextDelay_RunOfFiveMinutesBeforeTheFailure_StartsAgainFromOneSecond()
    {
        var backoff = new RestartBackoff();
        for (var i = 0; i < 5; i++)
        {
            backoff.NextDelay(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(TimeSpan.FromSeconds(1), backoff.NextDelay(TimeSpan.FromMinutes(5)));
        Assert.Equal(1, backoff.Failures);
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.NextDelay(TimeSpan.FromMinutes(4.9)));
    }
}
