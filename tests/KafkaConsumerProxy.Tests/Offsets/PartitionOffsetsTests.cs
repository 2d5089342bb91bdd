using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Offsets;

namespace KafkaConsumerProxy.Tests.Offsets;

public sealed class PartitionOffsetsTests
{
    [Fact]
    public void Finish_OutOfOrder_CommitPositionNeverPassesAnUnfinishedOffset()
    {
        var offsets = new PartitionOffsets();
        foreach (var offset in new long[] { 10, 11, 12, 15, 16 })
        {
            offsets.Track(offset);
        }

        Assert.Equal(-1, offsets.CommitPosition);
        Assert.Equal(-1, offsets.Finish(12));
        Assert.Equal(-1, offsets.Finish(16));
        Assert.Equal(3, offsets.Pending);
        Assert.Equal(11, offsets.Finish(10));
        // 11 unfinished holds everything after it, however much is done.
        Assert.Equal(11, offsets.Finish(15));
        Assert.Equal(1, offsets.Pending);
        // Finishing 11 moves over the whole finished run, across the gap 13-14 that was never fetched.
        Assert.Equal(17, offsets.Finish(11));
        Assert.Equal(0, offsets.Pending);
        Assert.Equal(17, offsets.CommitPosition);
    }

    [Fact]
    public void Finish_InOrder_PositionIsNextOffset()
    {
        var offsets = new PartitionOffsets();
        for (long offset = 0; offset < 1000; offset++)
        {
            offsets.Track(offset);
            Assert.Equal(offset + 1, offsets.Finish(offset));
        }
    }

    [Theory]
    [InlineData(0, 10, 7, 3)]
    [InlineData(0, 10, 10, 0)]
    [InlineData(0, 10, -1, 10)]
    [InlineData(-1, 10, -1, 10)]
    [InlineData(5, 10, -1, 5)]
    [InlineData(5, 10, 3, 5)]
    [InlineData(0, 10, 12, 10)]
    [InlineData(-1, -1, 4, 0)]
    public void Lag_OneFormulaForTheApiTheMetricsAndOffsetsShow_CountsFromWhereTheNextOwnerStarts_Issue16(long logStart, long logEnd, long committed, long expected)
    {
        // Nothing committed, or committed outside the log: the next owner starts at the log start (auto.offset.reset=earliest).
        Assert.Equal(expected, PartitionOffsets.Lag(logStart, logEnd, committed));
        if (logStart >= 0)
        {
            Assert.Equal(expected, new PartitionOffsetsRow(0, committed < 0 ? null : committed, null, logStart, logEnd).Lag);
        }
    }
}
