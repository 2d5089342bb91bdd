using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>A repeating log line: first in full, then a count at most once per interval per key, driven by a fake clock.</summary>
public sealed class RepeatedLogTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly List<(string Key, RepeatSummary<int> Summary)> _summaries = [];

    private RepeatedLog<string, int> Create() => new(_time, Interval, (key, summary) => _summaries.Add((key, summary)));

    [Fact]
    public void ShouldLog_FloodOfOneKey_FirstLoggedThenOneSummaryPerInterval_Issue7()
    {
        using var log = Create();
        var logged = 0;

        // 20 occurrences a second for 95 s, as librdkafka reports a broker outage.
        for (var i = 0; i < 95 * 20; i++)
        {
            if (log.ShouldLog("a", i))
            {
                logged++;
            }

            _time.Advance(TimeSpan.FromMilliseconds(50));
        }

        Assert.Equal(1, logged);
        Assert.Equal(3, _summaries.Count);
        Assert.All(_summaries, s => Assert.Equal("a", s.Key));
        Assert.All(_summaries, s => Assert.Equal(Interval, s.Summary.Since));
        Assert.Equal([599L, 600, 600], _summaries.Select(s => s.Summary.Count));
        Assert.Equal(1799, _summaries[^1].Summary.Latest);
    }

    [Fact]
    public void ShouldLog_OccurrencesStop_PendingCountStillSummarisedByTheTimer_Issue7()
    {
        using var log = Create();
        Assert.True(log.ShouldLog("a", 1));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(log.ShouldLog("a", 2));
        Assert.False(log.ShouldLog("a", 3));

        _time.Advance(TimeSpan.FromSeconds(24));
        Assert.Empty(_summaries);
        _time.Advance(TimeSpan.FromSeconds(1));

        var (key, summary) = Assert.Single(_summaries);
        Assert.Equal(("a", 2L, 3, Interval), (key, summary.Count, summary.Latest, summary.Since));

        // Nothing more happened: no further summary, and after a quiet interval the next one is logged in full.
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Single(_summaries);
        Assert.True(log.ShouldLog("a", 4));
    }

    [Fact]
    public void ShouldLog_KeysAreIndependent_Issue7()
    {
        using var log = Create();

        Assert.True(log.ShouldLog("a", 1));
        Assert.True(log.ShouldLog("b", 1));
        Assert.False(log.ShouldLog("a", 2));
        _time.Advance(Interval);

        var summary = Assert.Single(_summaries);
        Assert.Equal("a", summary.Key);
    }

    [Fact]
    public void ShouldLog_Always_WrittenButSummaryScheduleKept_Issue7()
    {
        using var log = Create();
        Assert.True(log.ShouldLog("p", 1, always: true));
        Assert.False(log.ShouldLog("p", 2));
        _time.Advance(TimeSpan.FromSeconds(20));

        // The first failure of the next message is always written...
        Assert.True(log.ShouldLog("p", 3, always: true));
        Assert.False(log.ShouldLog("p", 4));

        // ...and the summary still comes 30 s after the key's first line, counting only the counted ones.
        _time.Advance(TimeSpan.FromSeconds(10));
        var summary = Assert.Single(_summaries).Summary;
        Assert.Equal((2L, 4), (summary.Count, summary.Latest));
    }

    [Fact]
    public void Dispose_PendingCount_WrittenOnceAndTimerStopped_Issue7()
    {
        var log = Create();
        Assert.True(log.ShouldLog("a", 1));
        Assert.False(log.ShouldLog("a", 2));

        log.Dispose();
        _time.Advance(TimeSpan.FromMinutes(1));

        var summary = Assert.Single(_summaries).Summary;
        Assert.Equal(1L, summary.Count);
    }
}
