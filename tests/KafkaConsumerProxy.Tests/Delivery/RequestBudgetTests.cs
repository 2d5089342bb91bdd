using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>The shared budget's slots: who gets a slot given back, and what a waiting route is shown.</summary>
public sealed class RequestBudgetTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Release_SlotGoesToTheWaitingRouteHoldingFewest_NotToTheBusyRoutesEarlierWaiters_Issue23()
    {
        using var budget = new RequestBudget("shared", null, 2, _time);
        await budget.AcquireAsync("a", CancellationToken.None);
        await budget.AcquireAsync("a", CancellationToken.None);
        var aWaiting = Enumerable.Range(0, 3).Select(_ => budget.AcquireAsync("a", CancellationToken.None).AsTask()).ToList();
        _time.Advance(TimeSpan.FromSeconds(1));
        var b = budget.AcquireAsync("b", CancellationToken.None).AsTask();

        // a holds both slots and queued first; the slot it gives back goes to b, which holds none.
        budget.Release("a");
        await b.WaitAsync(Patience);
        Assert.All(aWaiting, t => Assert.False(t.IsCompleted));
        Assert.Equal([("a", 1), ("b", 1)], budget.Shares().Select(s => (s.Route, s.Held)).Order());

        // Each slot given back goes to whichever waiting route holds fewer: a, then b, then a again.
        var b2 = budget.AcquireAsync("b", CancellationToken.None).AsTask();
        budget.Release("a");
        await aWaiting[0].WaitAsync(Patience);
        Assert.False(b2.IsCompleted);
        budget.Release("b");
        await b2.WaitAsync(Patience);
        Assert.False(aWaiting[1].IsCompleted);
        budget.Release("a");
        await aWaiting[1].WaitAsync(Patience);
        Assert.False(aWaiting[2].IsCompleted);
    }

    [Fact]
    public async Task WaitOf_NamesTheBudgetAndTheRouteHoldingIt_AfterTheWaitIsLongEnough_CancelledWaitHoldsNothing_Issue23()
    {
        using var budget = new RequestBudget("shared", null, 1, _time);
        await budget.AcquireAsync("a", CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var b = budget.AcquireAsync("b", cancel.Token).AsTask();
        Assert.Null(budget.WaitOf("b", TimeSpan.FromSeconds(1)));
        Assert.Null(budget.WaitOf("a", TimeSpan.Zero));

        _time.Advance(TimeSpan.FromSeconds(2));
        var wait = budget.WaitOf("b", TimeSpan.FromSeconds(1));
        Assert.NotNull(wait);
        Assert.Equal("shared", wait.Budget);
        Assert.Equal(1, wait.Waiting);
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(2), wait.Since);
        Assert.Equal([new BudgetHolder("a", 1)], wait.HeldBy);
        Assert.Equal("waiting for budget shared (held by route a; 1 in flight)", wait.Description);
        var shares = budget.Shares().OrderBy(s => s.Route, StringComparer.Ordinal).ToList();
        Assert.Equal(new BudgetShare("shared", "a", 1, 0, 0), shares[0]);
        Assert.Equal(new BudgetShare("shared", "b", 0, 1, 2), shares[1]);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        Assert.Null(budget.WaitOf("b", TimeSpan.Zero));

        // The cancelled wait took nothing: the slot a gives back is free for the next request at once.
        budget.Release("a");
        await budget.AcquireAsync("b", CancellationToken.None).AsTask().WaitAsync(Patience);
        Assert.Equal(1, budget.Shares().Single(s => s.Route == "b").Held);
    }
}
