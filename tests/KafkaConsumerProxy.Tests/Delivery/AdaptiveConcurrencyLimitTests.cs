using KafkaConsumerProxy.Delivery;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>The AIMD limit and the Retry-After gate as pure logic: answers are fed in, the limit is read back.</summary>
public sealed class AdaptiveConcurrencyLimitTests
{
    private static readonly DeliveryResult Ok = new(DeliveryOutcome.Success, "h", TimeSpan.FromMilliseconds(5), 200);
    private static readonly DeliveryResult Refused = new(DeliveryOutcome.BadStatus, "h", TimeSpan.FromMilliseconds(1), 503);

    [Fact]
    public async Task SlowStart_DoublesPerRound_UpToTheBound_Issue10()
    {
        using var limit = new AdaptiveConcurrencyLimit(16);
        Assert.Equal(1, limit.Current);
        var seen = new List<int>();
        for (var round = 0; round < 6; round++)
        {
            var tickets = await AcquireAllAsync(limit, limit.Current);
            tickets.ForEach(t => limit.Release(t, Ok));
            seen.Add(limit.Current);
        }

        Assert.Equal([2, 4, 8, 16, 16, 16], seen);
    }

    [Fact]
    public async Task Overload_DecreasesOncePerRound_NeverBelowOne_Issue10()
    {
        using var limit = new AdaptiveConcurrencyLimit(64);
        for (var round = 0; round < 5; round++)
        {
            (await AcquireAllAsync(limit, limit.Current)).ForEach(t => limit.Release(t, Ok));
        }

        Assert.Equal(32, limit.Current);

        // A burst of 503s to 32 requests sent together counts once: 32 × 0.8.
        (await AcquireAllAsync(limit, 32)).ForEach(t => limit.Release(t, Refused));
        Assert.Equal(25, limit.Current);

        // Round after round of refusals, each a decrease, down to 1 and no further.
        for (var round = 0; round < 30; round++)
        {
            (await AcquireAllAsync(limit, limit.Current)).ForEach(t => limit.Release(t, Refused));
        }

        Assert.Equal(1, limit.Current);
    }

    [Fact]
    public async Task AfterOverload_GrowsByOnePerRound_AndOtherFailuresChangeNothing_Issue10()
    {
        using var limit = new AdaptiveConcurrencyLimit(64);
        for (var round = 0; round < 3; round++)
        {
            (await AcquireAllAsync(limit, limit.Current)).ForEach(t => limit.Release(t, Ok));
        }

        (await AcquireAllAsync(limit, 8)).ForEach(t => limit.Release(t, Refused));
        Assert.Equal(6, limit.Current);

        var serverError = new DeliveryResult(DeliveryOutcome.BadStatus, "h", TimeSpan.FromMilliseconds(1), 500);
        (await AcquireAllAsync(limit, 6)).ForEach(t => limit.Release(t, serverError));
        Assert.Equal(6, limit.Current);

        // 6.4 + 6 × ~1/6.5: one more per round of answers.
        (await AcquireAllAsync(limit, 6)).ForEach(t => limit.Release(t, Ok));
        Assert.Equal(7, limit.Current);
    }

    [Fact]
    public async Task Shrinking_HoldsBackPermits_InFlightRequestsAreNotCut_Issue10()
    {
        using var limit = new AdaptiveConcurrencyLimit(8);
        for (var round = 0; round < 3; round++)
        {
            (await AcquireAllAsync(limit, limit.Current)).ForEach(t => limit.Release(t, Ok));
        }

        var inFlight = await AcquireAllAsync(limit, 8);
        limit.Release(inFlight[0], Refused);
        Assert.Equal(6, limit.Current);

        // 7 still in flight, limit 6: nobody gets in until two more have come back.
        var waiting = limit.AcquireAsync(CancellationToken.None).AsTask();
        limit.Release(inFlight[1], Ok);
        Assert.False(waiting.IsCompleted);
        limit.Release(inFlight[2], Ok);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task EndpointGate_OnlyMovesForward_Issue10()
    {
        var time = new FakeTimeProvider();
        var gate = new EndpointGate(time);
        Assert.True(gate.NotBefore <= time.GetUtcNow());

        gate.Defer(TimeSpan.FromSeconds(10));
        gate.Defer(TimeSpan.FromSeconds(2));
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(10), gate.NotBefore);

        var waiting = gate.WaitAsync(CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static async Task<List<long>> AcquireAllAsync(AdaptiveConcurrencyLimit limit, int count)
    {
        var tickets = new List<long>();
        for (var i = 0; i < count; i++)
        {
            tickets.Add(await limit.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        }

        return tickets;
    }
}
