namespace KafkaConsumerProxy.Tests.Harness;

public sealed class EventuallyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ValueAsync_ConditionMetOnALaterLook_ReturnsThatValue()
    {
        var looks = 0;

        var value = await Eventually.ValueAsync(() => ++looks, n => n >= 3, "a third look", Patience, interval: TimeSpan.Zero);

        Assert.Equal(3, value);
    }

    [Fact]
    public async Task ValueAsync_NeverMet_ThrowsTimeoutNamingWhatAndTheLastValue()
    {
        var looks = 0;

        var timeout = await Assert.ThrowsAsync<TimeoutException>(
            () => Eventually.ValueAsync(() => ++looks, _ => false, "the impossible", TimeSpan.FromMilliseconds(100), n => $"look {n}"));

        Assert.Equal($"not within 0.1 s: the impossible; last observed: look {looks}", timeout.Message);
    }

    [Fact]
    public async Task ValueAsync_ObservationThrows_FailsAtOnce()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => Eventually.ValueAsync(Exited, _ => false, "never", Patience));

        Assert.True(started.Elapsed < Patience / 2, $"took {started.Elapsed}");

        static int Exited() => throw new InvalidOperationException("process exited");
    }

    [Fact]
    public async Task TrueAsync_NeverMet_ThrowsTimeoutShowingTheObservedState()
    {
        var timeout = await Assert.ThrowsAsync<TimeoutException>(
            () => Eventually.TrueAsync(() => false, "the file written", TimeSpan.Zero, () => "no such file"));

        Assert.Equal("not within 0 s: the file written; last observed: no such file", timeout.Message);
    }
}
