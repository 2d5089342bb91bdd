using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>The delivered rate the API and the dashboard show, read on the clock the observations are given.</summary>
public sealed class DeliveredRateTests
{
    [Fact]
    public void DeliveredPerSecond_OverTheLastMinute_OnTheGivenClock_Issue16()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var observations = new RouteObservations(time);

        for (var i = 0; i < 30; i++)
        {
            observations.CountDelivered("r");
        }

        Assert.Equal(0, observations.DeliveredPerSecond("r"));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(3, observations.DeliveredPerSecond("r"));
        for (var second = 0; second < 60; second++)
        {
            observations.CountDelivered("r");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        // The 30 of the first second are out of the window: one a second over the last minute.
        Assert.Equal(1, observations.DeliveredPerSecond("r"), precision: 1);
        Assert.Equal(0, observations.DeliveredPerSecond("other"));
    }
}
