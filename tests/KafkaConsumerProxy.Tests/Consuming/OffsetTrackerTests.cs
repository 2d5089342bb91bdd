using KafkaConsumerProxy.Consuming;

namespace KafkaConsumerProxy.Tests.Consuming;

public sealed class OffsetTrackerTests
{
    [Fact]
    public void Finish_OutOfOrder_CommitPositionNeverPassesAnUnfinishedOffset()
    {
        var tracker = new OffsetTracker();
        foreach (var offset in new long[] { 10, 11, 12, 15, 16 })
        {
            tracker.Track(offset);
        }

        Assert.Equal(-1, tracker.CommitPosition);
        Assert.Equal(-1, tracker.Finish(12));
        Assert.Equal(-1, tracker.Finish(16));
        Assert.Equal(3, tracker.Pending);
        Assert.Equal(11, tracker.Finish(10));
        // 11 unfinished holds everything after it, however much is done.
        Assert.Equal(11, tracker.Finish(15));
        Assert.Equal(1, tracker.Pending);
        // Finishing 11 moves over the whole finished run, across the gap 13-14 that was never fetched.
        Assert.Equal(17, tracker.Finish(11));
        Assert.Equal(0, tracker.Pending);
        Assert.Equal(17, tracker.CommitPosition);
    }

    [Fact]
    public void Finish_InOrder_PositionIsNextOffset()
    {
        var tracker = new OffsetTracker();
        for (long offset = 0; offset < 1000; offset++)
        {
            tracker.Track(offset);
            Assert.Equal(offset + 1, tracker.Finish(offset));
        }
    }
}
