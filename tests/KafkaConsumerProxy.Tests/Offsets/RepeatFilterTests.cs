using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>The repeat filter drops what the trusted record covers and says so while it does (first, every 30 s, at the end).</summary>
public sealed class RepeatFilterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger _log = new();
    private readonly ProxyMetrics _metrics = new(TimeProvider.System);
    private PartitionOffsets _progress = new();

    /// <summary>A filter on a record ending at <paramref name="recordNext"/>, owned by <see cref="_progress"/>, which asks it.</summary>
    private RepeatFilter Filter(long recordNext)
    {
        var filter = new RepeatFilter("r", "t", 0, new LocalRecord(recordNext, _time.GetUtcNow(), "id"), _metrics, _log, _time);
        _progress = new PartitionOffsets(null, DeliveryGuarantee.AtLeastOnce, -1, filter);
        return filter;
    }

    [Fact]
    public void LongFiltering_FirstMessageThenCountAtMostEvery30sThenTotalAtTheRecord_Issue7()
    {
        var filter = Filter(100);
        for (var offset = 0L; offset < 100; offset++)
        {
            Assert.True(_progress.IsRepeat(offset));
            // 100 messages over 99 s: progress lines are due at 30, 60 and 90 s, never more often.
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(
            [
                (LogLevel.Warning, "Route r: filtering repeats on t/0: offset 0 is below the local record 99, so it and the messages after it up to 99 were delivered before on this machine and are not delivered again"),
                (LogLevel.Information, "Route r: still filtering repeats on t/0: 31 filtered so far, now at offset 30 of up to 99"),
                (LogLevel.Information, "Route r: still filtering repeats on t/0: 61 filtered so far, now at offset 60 of up to 99"),
                (LogLevel.Information, "Route r: still filtering repeats on t/0: 91 filtered so far, now at offset 90 of up to 99"),
                // At the record's last offset, without waiting for a message past it (which may never come).
                (LogLevel.Information, "Route r: filtered 100 repeated message(s) on t/0 below the local record 99"),
            ],
            _log.Collector.Entries());
        Assert.Equal(100, _progress.CommitPosition);

        Assert.False(_progress.IsRepeat(100));
        filter.Stop();
        Assert.Equal(5, _log.Collector.Count);
        Assert.Equal(100, filter.Filtered);
    }

    [Fact]
    public void FilteringCutShort_NextMessagePastTheRecord_TotalLoggedOnce()
    {
        var filter = Filter(10);
        Assert.True(_progress.IsRepeat(5));
        Assert.True(_progress.IsRepeat(7));

        // 8 and 9 were never served (compaction, transaction markers): filtering ends at 10.
        Assert.False(_progress.IsRepeat(10));
        filter.Stop();
        Assert.Equal(
            [
                "Route r: filtering repeats on t/0: offset 5 is below the local record 9, so it and the messages after it up to 9 were delivered before on this machine and are not delivered again",
                "Route r: filtered 2 repeated message(s) on t/0 below the local record 9",
            ],
            _log.Collector.Messages());
    }

    [Fact]
    public void PartitionReleasedWhileFiltering_TotalLoggedAtStop_Issue7()
    {
        var filter = Filter(10);
        Assert.True(_progress.IsRepeat(0));
        filter.Stop();
        filter.Stop();
        Assert.Collection(
            _log.Collector.Messages(),
            l => Assert.Contains("filtering repeats on t/0: offset 0", l, StringComparison.Ordinal),
            l => Assert.Equal("Route r: filtered 1 repeated message(s) on t/0 below the local record 9", l));
    }

    [Fact]
    public void FirstMessagePastTheRecord_GapReported_NothingFiltered()
    {
        var filter = Filter(10);
        Assert.False(_progress.IsRepeat(15));
        filter.Stop();
        Assert.Equal(["Route r: offset gap on t/0: next message is 15 but the local record ends at 9; 5 offset(s) were never fetched (deleted or skipped by the cluster)"], _log.Collector.Messages());
        Assert.Equal(0, filter.Filtered);
    }

    [Fact]
    public void FirstMessageAtTheRecord_Silent()
    {
        var filter = Filter(10);
        Assert.False(_progress.IsRepeat(10));
        filter.Stop();
        Assert.Empty(_log.Collector.Entries());
    }
}
