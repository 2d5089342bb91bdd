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

    [Fact]
    public void DeliveredPerSecond_StaysRightOverTenMinutes_AndFallsWhenDeliveriesStop()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var observations = new RouteObservations(time);

        // Ten minutes at five a second: the minute's samples go round their buffer many times.
        for (var second = 0; second < 600; second++)
        {
            for (var i = 0; i < 5; i++)
            {
                observations.CountDelivered("r");
            }

            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(5, observations.DeliveredPerSecond("r"), precision: 1);

        // Nothing for half a minute: half the minute's deliveries are left in the window.
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.InRange(observations.DeliveredPerSecond("r"), 2.4, 2.6);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, observations.DeliveredPerSecond("r"));
    }

    [Fact]
    public async Task RateWindow_CountsEveryMessage_FromManyThreadsAtOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var window = new RateWindow();
        using var go = new ManualResetEventSlim();

        // Four threads counting while a fifth reads the rate, each on its own clock reading a second further on.
        var counters = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            go.Wait(TimeSpan.FromSeconds(30));
            for (var i = 0; i < 25_000; i++)
            {
                window.Add(time.GetUtcNow().AddSeconds(i / 5_000));
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var reader = Task.Factory.StartNew(() =>
        {
            go.Wait(TimeSpan.FromSeconds(30));
            for (var i = 0; i < 1_000; i++)
            {
                Assert.True(window.Rate(time.GetUtcNow().AddSeconds(i / 200)) >= 0);
            }
        }, TaskCreationOptions.LongRunning);
        go.Set();
        await Task.WhenAll([.. counters, reader]).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(100_000, window.Total);
        // All 100,000 fell within the first five seconds after the window's base: 10 s on, 10,000 a second.
        Assert.Equal(10_000, window.Rate(time.GetUtcNow().AddSeconds(10)), precision: 0);
    }
}
