using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>
/// A partition restarted behind messages already finished (async delivery, then a pause or a fault) fetches them again
/// without delivering them again, and its commit and local record still reach the end (issue 23, item 3).
/// </summary>
public sealed class PartitionRestartTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-restart-").FullName;

    [Fact]
    public async Task Restart_TwiceBeforeEverythingCameBack_FinishedOffsetsAreNeverDeliveredAgain_RecordReachesTheEnd_Issue23()
    {
        var store = new LocalOffsetStore(_stateDir, new FakeLogger(), new FakeTimeProvider());
        using var record = store.Open(new PartitionKey("c", "g", "t", 0), clusterId: null);
        var first = new PartitionOffsets(record, DeliveryGuarantee.NoRepeatOnOneMachine, -1);
        for (var offset = 0; offset < 6; offset++)
        {
            first.Track(offset);
        }

        // 0 and 1 unfinished, 2..5 finished out of order.
        foreach (var offset in new[] { 5, 3, 2, 4 })
        {
            await first.FinishAsync(offset);
        }

        var seekTo = first.Restart();
        var second = first;
        Assert.Equal(0, seekTo);
        Assert.Equal(4, second.DoneBeforeRestart);

        // Fetched again from 0: 0 is delivered, 1 is fetched, then the partition restarts again before 2..5 came back.
        Assert.False(second.FinishIfDoneBefore(0));
        second.Track(0);
        Assert.False(second.FinishIfDoneBefore(1));
        second.Track(1);
        await second.FinishAsync(0);
        seekTo = second.Restart();
        var third = second;
        Assert.Equal(1, seekTo);
        Assert.Equal(1, third.CommitPosition);

        var delivered = new List<long>();
        for (var offset = 1; offset < 7; offset++)
        {
            if (!third.FinishIfDoneBefore(offset))
            {
                delivered.Add(offset);
                third.Track(offset);
            }
        }

        Assert.Equal([1, 6], delivered);
        Assert.Equal(0, third.DoneBeforeRestart);
        await third.FinishAsync(6);
        Assert.Equal(1, third.CommitPosition);
        await third.FinishAsync(1);
        Assert.Equal(7, third.CommitPosition);
        Assert.Equal(7, record.Flush());
    }

    [Fact]
    public async Task Restart_FinishedRunEndsWithTheRefetchedOnes_Mode3FlushesSoTheCommitReachesTheEnd_Issue23()
    {
        var store = new LocalOffsetStore(_stateDir, new FakeLogger(), new FakeTimeProvider());
        using var record = store.Open(new PartitionKey("c", "g", "t", 1), clusterId: null);
        var first = new PartitionOffsets(record, DeliveryGuarantee.NoRepeatOnOneMachine, -1);
        first.Track(0);
        first.Track(1);
        first.Track(2);
        await first.FinishAsync(1);
        await first.FinishAsync(2);

        var seekTo = first.Restart();
        var second = first;
        Assert.Equal(0, seekTo);
        second.Track(0);
        await second.FinishAsync(0);
        Assert.Equal(1, second.CommitPosition);
        Assert.True(second.FinishIfDoneBefore(1));
        Assert.True(second.FinishIfDoneBefore(2));

        // Nothing is delivered after them: the last one flushed the record, so mode 3 may commit up to it.
        Assert.Equal(3, second.Durable);
        Assert.Equal(3, second.CommitPosition);
    }

    [Fact]
    public async Task Restart_InPlace_ALateCompletionOfTheStoppedWorkerDoesNotCountInTheNewRun_Issue16()
    {
        var store = new LocalOffsetStore(_stateDir, new FakeLogger(), new FakeTimeProvider());
        using var record = store.Open(new PartitionKey("c", "g", "t", 2), clusterId: null);
        var offsets = new PartitionOffsets(record, DeliveryGuarantee.AtLeastOnce, -1);
        var stoppedRun = offsets.Run;
        offsets.Track(0);
        offsets.Track(1);
        await offsets.FinishAsync(0, stoppedRun, TimeProvider.System, CancellationToken.None);

        Assert.Equal(1, offsets.Restart());
        offsets.Track(1);

        // 1 was still in flight when its worker was stopped: fetched again, it counts only once the new run finishes it.
        await offsets.FinishAsync(1, stoppedRun, TimeProvider.System, CancellationToken.None);
        Assert.Equal(1, offsets.CommitPosition);
        Assert.Equal(1, offsets.Pending);
        await offsets.FinishAsync(1, offsets.Run, TimeProvider.System, CancellationToken.None);
        Assert.Equal(2, offsets.CommitPosition);
        Assert.Equal(2, record.Flush());
    }

    [Fact]
    public void RestartAt_Seek_ForgetsEverythingAndCommitsFromTheTarget_Issue16()
    {
        var offsets = new PartitionOffsets();
        offsets.Track(4);
        offsets.Track(5);
        _ = offsets.Finish(5);

        offsets.RestartAt(2);

        Assert.Equal(2, offsets.CommitPosition);
        Assert.Equal(0, offsets.Pending);
        Assert.Equal(0, offsets.DoneBeforeRestart);
        Assert.Equal(-1, offsets.OldestUnfinished);
    }

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);
}
