using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>
/// The committer against the embedded cluster, given the partitions' commit positions: what the group holds after restarts of a partition, after a refused commit of released partitions, and
/// after a partition is released and assigned again.
/// </summary>
public sealed class OffsetCommitterTests(TestCluster cluster) : IClassFixture<TestCluster>
{
    [Fact]
    public async Task CommitNow_PartitionRestartedTwice_GroupOffsetNeverMovesBack_Issue16()
    {
        await using var fixture = new Fixture(cluster, partitions: 1);
        var committer = fixture.Committer();
        var seen = new List<long>();

        // Async delivery: 0-4 and 6-7 finished, 5 not.
        var first = new PartitionOffsets();
        for (var offset = 0; offset < 10; offset++)
        {
            first.Track(offset);
        }

        foreach (var offset in new long[] { 0, 1, 2, 3, 4, 6, 7 })
        {
            await first.FinishAsync(offset);
        }

        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.At(0, first)]));
        seen.Add(fixture.GroupOffset(0));

        // Restarted in place (a fault or a pause) before anything is fetched again: it stands where it was.
        var seekTo = first.Restart();
        var second = first;
        Assert.Equal(5, seekTo);
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.At(0, second)]));
        seen.Add(fixture.GroupOffset(0));

        // 5-9 fetched again: 6 and 7 were finished before the restart; 5 finishes now, 8 does not.
        for (var offset = 5; offset < 10; offset++)
        {
            if (!second.FinishIfDoneBefore(offset))
            {
                second.Track(offset);
            }
        }

        await second.FinishAsync(5);
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.At(0, second)]));
        seen.Add(fixture.GroupOffset(0));

        seekTo = second.Restart();
        var third = second;
        Assert.Equal(8, seekTo);
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.At(0, third)]));
        seen.Add(fixture.GroupOffset(0));

        Assert.Equal([5L, 5L, 8L, 8L], seen);
        Assert.Equal(8, committer.CommittedOf(0));
    }

    [Fact]
    public async Task RetryReleased_NewOwnerCommittedFurther_ItsOffsetStaysAndOnlyPartitionsStillBehindAreCommitted_Issue16()
    {
        await using var fixture = new Fixture(cluster, partitions: 2);
        var time = new FakeTimeProvider();
        var committer = fixture.Committer(time);
        var p0 = fixture.Finished(0, upTo: 5);
        var p1 = fixture.Finished(1, upTo: 7);

        // The group refuses the final commit of the released partitions (as it may while it rebalances).
        cluster.Mock.PushRequestErrors(KafkaApiKey.OffsetCommit, ErrorCode.OffsetMetadataTooLarge);
        committer.CommitReleased(fixture.Consumer, [p0, p1]);
        committer.Forget([p0.TopicPartition, p1.TopicPartition]);
        Assert.Equal(-1001, fixture.GroupOffset(0));

        // Partition 0's new owner commits 8 meanwhile; partition 1's has committed nothing yet.
        fixture.CommitElsewhere(0, 8);

        time.Advance(TimeSpan.FromMilliseconds(150));
        committer.RetryReleased(fixture.Consumer);

        Assert.Equal(8, fixture.GroupOffset(0));
        Assert.Equal(7, fixture.GroupOffset(1));
    }

    [Fact]
    public async Task Forget_PartitionReleasedAndAssignedAgain_ItsNewRunIsCommittedEvenWhereTheOldOneEnded_Issue16()
    {
        await using var fixture = new Fixture(cluster, partitions: 2);
        var committer = fixture.Committer();
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.Finished(0, upTo: 5), fixture.Finished(1, upTo: 3)]));
        Assert.Equal(5, committer.CommittedOf(0));

        // Partition 0 is released (revoked or lost); its next owner goes back to 2 (a seek, a reset) and loses it again.
        committer.Forget([new TopicPartition(fixture.Topic, 0)]);
        Assert.Null(committer.CommittedOf(0));
        Assert.Equal(3, committer.CommittedOf(1));
        fixture.CommitElsewhere(0, 2);

        // Assigned again, this member delivers 2-4: its run ends at 5, where the forgotten one ended.
        var again = new PartitionOffsets();
        for (var offset = 2; offset < 5; offset++)
        {
            again.Track(offset);
            await again.FinishAsync(offset);
        }

        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.At(0, again)]));

        Assert.Equal(5, fixture.GroupOffset(0));
        Assert.Equal(5, committer.CommittedOf(0));
    }

    [Fact]
    public async Task CommitNow_PositionBehindWhatWasCommitted_GroupOffsetStaysUntilAnOperatorMovesIt_Issue16()
    {
        await using var fixture = new Fixture(cluster, partitions: 2);
        var committer = fixture.Committer();
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.Finished(0, upTo: 8), fixture.Finished(1, upTo: 4)]));

        // Partition 0 reports a position behind its commit; partition 1 moves on in the same commit.
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.Finished(0, upTo: 5), fixture.Finished(1, upTo: 6)]));
        Assert.Equal(8, fixture.GroupOffset(0));
        Assert.Equal(8, committer.CommittedOf(0));
        Assert.Equal(6, fixture.GroupOffset(1));

        // A seek back is the one way behind: the next commit goes there, and the one after only forward again.
        committer.Rewind(0);
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.Finished(0, upTo: 5)]));
        Assert.Equal(5, fixture.GroupOffset(0));
        Assert.True(committer.CommitNow(fixture.Consumer, [fixture.Finished(0, upTo: 3)]));
        Assert.Equal(5, fixture.GroupOffset(0));
        Assert.Equal(5, committer.CommittedOf(0));
    }

    /// <summary>A topic, a group, and a consumer that commits for it (not a member).</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly TestCluster _cluster;

        public Fixture(TestCluster cluster, int partitions)
        {
            _cluster = cluster;
            Topic = cluster.CreateTopic("committer", partitions);
            Group = Names.Unique("committer");
            Consumer = TestCluster.BuildQuietConsumer(cluster.ConsumerConfig(Group));
        }

        public string Topic { get; }

        public string Group { get; }

        public IConsumer<byte[]?, byte[]?> Consumer { get; }

        public OffsetCommitter Committer(TimeProvider? time = null) =>
            new("c", 0, TimeSpan.FromSeconds(1), NullLogger.Instance, time ?? TimeProvider.System);

        /// <summary>Where <paramref name="offsets"/> of <paramref name="partition"/> may be committed.</summary>
        public TopicPartitionOffset At(int partition, PartitionOffsets offsets) =>
            new(new TopicPartition(Topic, partition), offsets.CommitPosition);

        /// <summary><paramref name="partition"/> with every offset below <paramref name="upTo"/> finished.</summary>
        public TopicPartitionOffset Finished(int partition, long upTo)
        {
            var offsets = new PartitionOffsets();
            offsets.CommitFrom(upTo);
            return At(partition, offsets);
        }

        /// <summary>Commits <paramref name="offset"/> for the group from another consumer, as the partition's next owner would.</summary>
        public void CommitElsewhere(int partition, long offset)
        {
            using var other = TestCluster.BuildQuietConsumer(_cluster.ConsumerConfig(Group));
            other.Commit([new TopicPartitionOffset(Topic, partition, offset)]);
            other.Close();
        }

        /// <summary>The group's committed offset of <paramref name="partition"/> as the cluster holds it (-1001: none).</summary>
        public long GroupOffset(int partition) =>
            Consumer.Committed([new TopicPartition(Topic, partition)], TimeSpan.FromSeconds(10)).Single().Offset.Value;

        public ValueTask DisposeAsync()
        {
            Consumer.Close();
            Consumer.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
