using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>Every branch of the start-position policy: which local record is trusted, where a partition starts, what is filtered.</summary>
public sealed class StartPositionPolicyTests
{
    private const string ClusterA = "cluster-A-id";
    private const string ClusterB = "cluster-B-id";
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static StartInputs Inputs(
        long? committed = 10,
        long recordNext = 10,
        string? recordCluster = ClusterA,
        bool hasRecord = true,
        LogBounds? log = null,
        bool logKnown = true,
        string? clusterId = ClusterA,
        DeliveryGuarantee mode = DeliveryGuarantee.AtLeastOnce,
        int useSavedOffsetTime = -1,
        double recordAgeSeconds = 100) =>
        new(committed,
            hasRecord ? new LocalRecord(recordNext, Now.AddSeconds(-recordAgeSeconds), recordCluster) : null,
            logKnown ? log ?? new LogBounds(0, 30) : null,
            clusterId,
            mode,
            useSavedOffsetTime,
            Now);

    [Fact]
    public void NoRecord_StartsAtCommitted_NothingFilteredOrDiscarded()
    {
        var start = StartPositionPolicy.Decide(Inputs(hasRecord: false));
        Assert.Equal(RecordTrust.None, start.Trust);
        Assert.Null(start.SeekTo);
        Assert.Null(start.TrustedRecord);
        Assert.Null(start.BehindBy);
        Assert.False(start.DiscardRecord);
        Assert.Equal(-1, start.DurableFrom);
    }

    [Fact]
    public void SameClusterInsideLog_CommittedEqualsRecord_TrustedStartsAtCommitted()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 10, recordNext: 10));
        Assert.Equal(RecordTrust.Trusted, start.Trust);
        Assert.Null(start.SeekTo);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
        Assert.Null(start.BehindBy);
        Assert.False(start.DiscardRecord);
        Assert.Equal(10, start.DurableFrom);
    }

    [Fact]
    public void CommittedAheadOfRecord_NotBehind_FilterStillAtRecord()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 20, recordNext: 10, useSavedOffsetTime: 0));
        Assert.Equal(RecordTrust.Trusted, start.Trust);
        Assert.Null(start.BehindBy);
        Assert.Null(start.SeekTo);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
    }

    [Fact]
    public void CommittedBehind_NegativeUseSavedOffsetTime_FilteredNotRestored()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, useSavedOffsetTime: -1));
        Assert.Equal(7, start.BehindBy);
        Assert.Null(start.SeekTo);
        Assert.False(start.Restored);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
    }

    [Theory]
    [InlineData(0, 0.5, true)]
    [InlineData(60, 30, false)]
    [InlineData(60, 90, true)]
    public void CommittedBehind_UseSavedOffsetTime_RestoredOnlyWhenRecordOldEnough(int useSavedOffsetTime, double ageSeconds, bool restored)
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, useSavedOffsetTime: useSavedOffsetTime, recordAgeSeconds: ageSeconds));
        Assert.Equal(restored, start.Restored);
        Assert.Equal(restored ? 10 : null, start.SeekTo);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
    }

    [Fact]
    public void ModeThree_CommittedBehind_AlwaysRestored()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, mode: DeliveryGuarantee.NoRepeatOnOneMachine, useSavedOffsetTime: -1));
        Assert.Equal(10, start.SeekTo);
    }

    [Fact]
    public void NoCommittedOffset_RecordInsideLog_BehindCountedFromLogStart()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: null, recordNext: 10, log: new LogBounds(4, 30), useSavedOffsetTime: 0));
        Assert.Equal(6, start.BehindBy);
        Assert.Equal(10, start.SeekTo);
        Assert.False(start.CommittedOutsideLog);
    }

    [Fact]
    public void NoCommittedOffset_RecordAtLogStart_NothingRepeats_NotBehind()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: null, recordNext: 4, log: new LogBounds(4, 30), useSavedOffsetTime: 0));
        Assert.Equal(RecordTrust.Trusted, start.Trust);
        Assert.Null(start.BehindBy);
        Assert.Null(start.SeekTo);
    }

    [Theory]
    [InlineData(DeliveryGuarantee.AtLeastOnce, 0)]
    [InlineData(DeliveryGuarantee.NoRepeatOnOneMachine, -1)]
    public void OtherCluster_RecordInsideLog_IgnoredAndDiscarded_Issue7(DeliveryGuarantee mode, int useSavedOffsetTime)
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: null, recordNext: 10, recordCluster: ClusterA, clusterId: ClusterB, mode: mode, useSavedOffsetTime: useSavedOffsetTime));
        Assert.Equal(RecordTrust.OtherCluster, start.Trust);
        Assert.Null(start.SeekTo);
        Assert.Null(start.TrustedRecord);
        Assert.Null(start.BehindBy);
        Assert.True(start.DiscardRecord);
        Assert.Equal(-1, start.DurableFrom);
    }

    [Fact]
    public void OtherCluster_LogUnknown_StillOtherCluster_Issue7()
    {
        var start = StartPositionPolicy.Decide(Inputs(recordCluster: ClusterA, clusterId: ClusterB, logKnown: false));
        Assert.Equal(RecordTrust.OtherCluster, start.Trust);
    }

    [Theory]
    [InlineData(25L, true)] // past the end: a replaced cluster, a recreated topic, offsets set --force
    [InlineData(999_999L, true)]
    [InlineData(3L, false)] // before the start: messages after the record were deleted
    public void RecordOutsideLog_IgnoredEvenInModeThree_Issue7(long recordNext, bool pastEnd)
    {
        var log = new LogBounds(4, 24);
        var start = StartPositionPolicy.Decide(Inputs(committed: null, recordNext: recordNext, log: log, mode: DeliveryGuarantee.NoRepeatOnOneMachine, useSavedOffsetTime: 0));
        Assert.Equal(RecordTrust.OutsideLog, start.Trust);
        Assert.Null(start.SeekTo);
        Assert.Null(start.TrustedRecord);
        Assert.True(start.DiscardRecord);
        Assert.Equal(pastEnd, recordNext > log.High);
    }

    [Theory]
    [InlineData(4L)] // low watermark − 1 is the record's last done
    [InlineData(24L)] // everything up to the log end was done
    public void RecordAtLogBoundary_Trusted_Issue7(long recordNext)
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 0, recordNext: recordNext, log: new LogBounds(4, 24), useSavedOffsetTime: 0));
        Assert.Equal(RecordTrust.Trusted, start.Trust);
        Assert.Equal(recordNext, start.TrustedRecord?.NextOffset);
    }

    [Theory]
    [InlineData(DeliveryGuarantee.AtLeastOnce, 0)]
    [InlineData(DeliveryGuarantee.NoRepeatOnOneMachine, -1)]
    public void LogBoundsUnknown_NotTrustedForRestoreNorFiltering_Issue7(DeliveryGuarantee mode, int useSavedOffsetTime)
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, logKnown: false, mode: mode, useSavedOffsetTime: useSavedOffsetTime));
        Assert.Equal(RecordTrust.LogUnknown, start.Trust);
        Assert.Null(start.SeekTo);
        Assert.Null(start.TrustedRecord);
        Assert.True(start.DiscardRecord);
        Assert.False(start.CommittedOutsideLog);
    }

    [Fact]
    public void RecordWithoutClusterId_InsideLog_TrustedOnBoundsAlone_Issue7()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, recordCluster: null, useSavedOffsetTime: 0));
        Assert.Equal(RecordTrust.TrustedClusterUnknown, start.Trust);
        Assert.Equal(10, start.SeekTo);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
        Assert.False(start.DiscardRecord);
    }

    [Fact]
    public void RecordWithoutClusterId_PastLogEnd_Ignored_Issue7()
    {
        var start = StartPositionPolicy.Decide(Inputs(committed: null, recordNext: 300, recordCluster: null, log: new LogBounds(0, 10)));
        Assert.Equal(RecordTrust.OutsideLog, start.Trust);
        Assert.Null(start.TrustedRecord);
    }

    [Fact]
    public void ClusterIdUnknownNow_InsideLog_TrustedOnBoundsAlone_Issue7()
    {
        var start = StartPositionPolicy.Decide(Inputs(clusterId: null));
        Assert.Equal(RecordTrust.TrustedClusterUnknown, start.Trust);
        Assert.Equal(10, start.TrustedRecord?.NextOffset);
    }

    [Fact]
    public void LongClusterId_ComparedInItsStoredForm_Issue7()
    {
        var id = new string('k', 100);
        Assert.Equal(RecordTrust.Trusted, StartPositionPolicy.Judge(new LocalRecord(5, Now, LocalRecord.StoredClusterId(id)), new LogBounds(0, 10), id));
        Assert.Equal(RecordTrust.OtherCluster, StartPositionPolicy.Judge(new LocalRecord(5, Now, LocalRecord.StoredClusterId(id)), new LogBounds(0, 10), id + "2"));
    }

    [Theory]
    [InlineData(999_999L, true)]
    [InlineData(2L, true)]
    [InlineData(4L, false)]
    [InlineData(24L, false)]
    public void CommittedOutsideLog_Reported_WithOrWithoutRecord_Issue7(long committed, bool outside)
    {
        var log = new LogBounds(4, 24);
        Assert.Equal(outside, StartPositionPolicy.Decide(Inputs(committed: committed, hasRecord: false, log: log)).CommittedOutsideLog);
        Assert.Equal(outside, StartPositionPolicy.Decide(Inputs(committed: committed, recordNext: 10, log: log)).CommittedOutsideLog);
    }

    [Fact]
    public void Report_OtherCluster_WarnsWithRecordWatermarksAndBothClusterIds_Issue7()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs(committed: null, recordNext: 300, clusterId: ClusterB, log: new LogBounds(0, 40)))
            .Report(log, "orders", "t", 0, "default", logError: null);
        var (level, text) = Assert.Single(log.Collector.Entries());
        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal("Route orders: local offset record of t/0 ignored: it was written for cluster id cluster-A-id (last done 299), but cluster default has id cluster-B-id (log 0..40); nothing is filtered, restored or committed from it, and new progress replaces it", text);
    }

    [Fact]
    public void Report_OutsideLog_WarnsWithRecordWatermarksAndBothClusterIds_Issue7()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs(committed: 999_999, recordNext: 999_999, log: new LogBounds(0, 24)))
            .Report(log, "r", "t", 0, "default", logError: null);
        Assert.Equal(
            [
                (LogLevel.Warning, "Route r: local offset record of t/0 ignored: last done 999998 lies outside the partition's log (low watermark 0, high watermark 24; record cluster id cluster-A-id, cluster id cluster-A-id); nothing is filtered, restored or committed from it, and new progress replaces it"),
                (LogLevel.Warning, "Route r: the group's committed offset 999999 of t/0 lies outside the partition's log (low watermark 0, high watermark 24); the consumer starts where auto.offset.reset says"),
            ],
            log.Collector.Entries());
    }

    [Fact]
    public void Report_LogUnknown_SaysTheRecordIsNotTrustedAndWhy_Issue7()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs(logKnown: false, clusterId: null)).Report(log, "r", "t", 1, "default", "Local: Timed out");
        var (level, text) = Assert.Single(log.Collector.Entries());
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("could not be read (Local: Timed out)", text, StringComparison.Ordinal);
        Assert.Contains("last done 9, record cluster id cluster-A-id, cluster id (unknown)", text, StringComparison.Ordinal);
        Assert.Contains("nothing is filtered or restored", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_TrustedBehindAndRestored_OffsetBehindThenRestored()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs(committed: 3, recordNext: 10, useSavedOffsetTime: 0)).Report(log, "r", "t", 0, "default", null);
        Assert.Collection(
            log.Collector.Messages(),
            l => Assert.Equal("Route r: offset behind on t/0: the group's committed offset 3 is behind the local record 9 (7 message(s) would repeat)", l),
            l => Assert.StartsWith("Route r: offset restored on t/0: seeking to 10 from the local record (100 s old)", l, StringComparison.Ordinal));
    }

    [Fact]
    public void Report_TrustedWithoutClusterId_SaysSoAtInformation_Issue7()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs(recordCluster: null)).Report(log, "r", "t", 0, "default", null);
        var (level, text) = Assert.Single(log.Collector.Entries());
        Assert.Equal(LogLevel.Information, level);
        Assert.Equal("Route r: local offset record of t/0 (last done 9) trusted on the log bounds alone (low watermark 0, high watermark 30): record cluster id (unknown), cluster id cluster-A-id", text);
    }

    [Fact]
    public void Report_TrustedUpToDate_Silent()
    {
        var log = new FakeLogger();
        StartPositionPolicy.Decide(Inputs()).Report(log, "r", "t", 0, "default", null);
        Assert.Empty(log.Collector.Entries());
    }
}
