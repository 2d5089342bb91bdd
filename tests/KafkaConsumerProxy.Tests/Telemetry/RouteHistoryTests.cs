using System.Globalization;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>The history behind the dashboard's sparklines (<c>GET /api/v1/routes/{route}/history</c>): rates from totals, 15 minutes kept.</summary>
public sealed class RouteHistoryTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    [Fact]
    public void Points_AreRatesOverEachInterval_AndTheLagThen_EndingWithTheRunningInterval_Issue19()
    {
        var time = new FakeTimeProvider(Start);
        var observations = new RouteObservations(time);
        time.Advance(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 50; i++)
            observations.CountDelivered("r");
        observations.SampleHistory(["r"]);
        time.Advance(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 20; i++)
            observations.CountFailed("r");
        observations.SampleHistory(["r"]);
        time.Advance(TimeSpan.FromSeconds(4));
        for (var i = 0; i < 2; i++)
            observations.CountDelivered("r");

        var points = observations.HistoryOf("r");

        Assert.Equal(
            [new HistoryPoint(Start.AddSeconds(10), 5, 0, 0), new HistoryPoint(Start.AddSeconds(20), 0, 2, 0), new HistoryPoint(Start.AddSeconds(24), 0.5, 0, 0)],
            points);
        // A route never sampled: the running interval alone, from kcp's start.
        Assert.Equal([new HistoryPoint(Start.AddSeconds(24), 0, 0, 0)], observations.HistoryOf("other"));
    }

    [Fact]
    public void RouteRemovedByReload_ItsHistoryAndCountsAreForgotten_AReAddedRouteStartsAfresh_Issue19()
    {
        var time = new FakeTimeProvider(Start);
        var observations = new RouteObservations(time);
        time.Advance(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 50; i++)
            observations.CountDelivered("r");
        observations.SampleHistory(["r"]);

        observations.Forget("r");
        time.Advance(TimeSpan.FromSeconds(10));

        // Only the running interval, with nothing of what the removed route delivered.
        Assert.Equal([new HistoryPoint(Start.AddSeconds(20), 0, 0, 0)], observations.HistoryOf("r"));
    }

    [Fact]
    public void Ring_KeepsFifteenMinutes_OldestDropped_Issue19()
    {
        var history = new RouteHistory(Start);
        var samples = RouteHistory.Capacity + 30;
        for (var i = 1; i <= samples; i++)
            history.Add("r", Start + (RouteHistory.Step * i), delivered: 10L * i, failed: 0, lag: i);

        var now = Start + (RouteHistory.Step * samples) + TimeSpan.FromSeconds(5);
        var points = history.Points("r", now, delivered: 10L * samples, failed: 0, lag: 7);

        Assert.Equal(90, RouteHistory.Capacity);
        // The oldest kept sample only starts the first interval: 89 intervals of samples, and the running one.
        Assert.Equal(RouteHistory.Capacity, points.Count);
        Assert.Equal(Start + (RouteHistory.Step * 32), points[0].At);
        Assert.All(points.SkipLast(1), p => Assert.Equal(1, p.DeliveredPerSecond));
        Assert.Equal(new HistoryPoint(now, 0, 0, 7), points[^1]);
        Assert.True(now - points[0].At <= RouteHistory.Window);

        history.Forget("r");
        Assert.Single(history.Points("r", now, 0, 0, 0));
    }
}
