using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>SIGUSR1 bursts: at most one manual skip request per second counts.</summary>
public sealed class ManualSkipSignalTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly FakeLogCollector _logs = new();

    [Fact]
    public void Trigger_BurstOf100In1500Ms_TwoRequestsCountAndOneLinePerIgnoredRun_Issue7()
    {
        using var loggers = FakeLogs.AtInformation(_logs);
        var signal = new ManualSkipSignal(_time, loggers);
        var cancelled = 0;
        var accepted = 0;

        for (var i = 0; i < 100; i++)
        {
            // A message being retried all along: after each skip the next one starts failing.
            var token = signal.Take().Token;
            if (signal.Trigger())
            {
                accepted++;
            }

            if (token.IsCancellationRequested)
            {
                cancelled++;
            }

            _time.Advance(TimeSpan.FromMilliseconds(15));
        }

        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(2, accepted);
        Assert.Equal(2, cancelled);
        var lines = _logs.Lines();
        Assert.Equal(2, lines.Count(l => l.Contains("Manual skip requested", StringComparison.Ordinal)));
        var ignored = lines.Where(l => l.Contains("Ignored", StringComparison.Ordinal)).ToList();
        // 0 ms counts, then 1..66 (15..990 ms) are ignored; 67 (1005 ms) counts, then 68..99 are ignored.
        Assert.Equal(["Warning: Ignored 66 manual skip request(s) (SIGUSR1) that came within 1000 ms of the previous accepted one; at most one request per second counts",
            "Warning: Ignored 32 manual skip request(s) (SIGUSR1) that came within 1000 ms of the previous accepted one; at most one request per second counts"], ignored);
        Assert.Equal(4, lines.Count);
    }

    [Fact]
    public void Trigger_OncePerSecond_EveryRequestCounts_Issue7()
    {
        using var loggers = FakeLogs.AtInformation(_logs);
        var signal = new ManualSkipSignal(_time, loggers);

        for (var i = 0; i < 5; i++)
        {
            var token = signal.Take().Token;
            Assert.True(signal.Trigger());
            Assert.True(token.IsCancellationRequested);
            Assert.False(signal.Token.IsCancellationRequested);
            _time.Advance(ManualSkipSignal.MinInterval);
        }

        Assert.Equal(5, _logs.Count);
        Assert.DoesNotContain(_logs.Lines(), l => l.Contains("Ignored", StringComparison.Ordinal));
    }

    [Fact]
    public void Trigger_NothingBeingRetried_NotTakenNotCountedAndSaidOncePerSecond_Issue7()
    {
        using var loggers = FakeLogs.AtInformation(_logs);
        var signal = new ManualSkipSignal(_time, loggers);

        // A message that failed and was then finished (delivered or skipped) holds nothing any more.
        signal.Take().Release();
        var first = signal.Token;
        Assert.False(signal.Trigger());
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.False(signal.Trigger());
        Assert.False(first.IsCancellationRequested);
        Assert.Equal(["Warning: Manual skip request (SIGUSR1) not taken: no message is being retried, so there is nothing to skip"], _logs.Lines());

        // The requests not taken did not count: one that finds a message being retried 200 ms later is taken.
        _time.Advance(TimeSpan.FromMilliseconds(100));
        var held = signal.Take();
        Assert.True(signal.Trigger());
        Assert.True(held.Token.IsCancellationRequested);
        Assert.Contains(_logs.Lines(), l => l.Contains("Manual skip requested (SIGUSR1)", StringComparison.Ordinal));

        // Once it is finished nothing is being retried again, and a second later that is said again.
        held.Release();
        _time.Advance(ManualSkipSignal.MinInterval);
        Assert.False(signal.Trigger());
        Assert.Equal(2, _logs.Lines().Count(l => l.Contains("not taken", StringComparison.Ordinal)));
    }
}
