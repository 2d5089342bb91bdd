using System.Text.Json;
using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Tests.Admin;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Offsets;

/// <summary>
/// <c>max_uncommitted</c>: while the group refuses commits, a partition's delivery stops that many offsets past its last
/// successful commit (so a takeover repeats at most that many), says so in the API and the metrics, and goes on once
/// commits succeed again (issue 23, item 5). Commit failures are injected cluster-wide, so the test has its own cluster.
/// </summary>
public sealed class UncommittedBoundTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task CommitsRefused_DeliveryStopsAtMaxUncommitted_VisibleInApiAndMetrics_GoesOnOnceCommitsSucceed_Issue23()
    {
        const int Count = 100;
        const int Bound = 20;
        using var cluster = TestCluster.Start();
        var topic = cluster.CreateTopic("uncommitted", 1);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(cluster.BootstrapServers);
        config.AddRoute("r", topic, group, receiver.Port, new Dictionary<string, object> { ["max_uncommitted"] = Bound, ["max_pending"] = 10 });
        var produced = await cluster.ProduceAsync(topic, Delivered.Numbered(1, Count));
        var expected = produced.Select(p => (p.Partition.Value, p.Offset.Value)).ToHashSet();

        // Every commit is refused until the errors are cleared (OFFSET_METADATA_TOO_LARGE: refused without a rebalance).
        cluster.Mock.PushRequestErrors(KafkaApiKey.OffsetCommit, Enumerable.Repeat(ErrorCode.OffsetMetadataTooLarge, 100_000).ToArray());
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);

        var partition = Partition(await admin.WaitForJsonAsync("/api/v1/routes/r", j => Partition(j) is { } p && p.GetProperty("waiting_for_commit").GetBoolean(),
            "partition 0 waiting for a commit", Patience))!.Value;
        Assert.Equal(Bound, partition.GetProperty("uncommitted").GetInt64());
        await receiver.WaitForAsync(r => r.Select(x => x.Offset).Distinct().Count() == Bound, Patience);

        // Commits go on being tried and refused; nothing past the bound is delivered meanwhile.
        var failures = kcp.StdOut.Count(IsCommitFailure);
        await Eventually.ValueAsync(() => kcp.StdOut.Count(IsCommitFailure), n => n >= failures + 5, $"five more refused commits than {failures}", Patience, n => $"{n} refused;\n" + kcp.Tail(), TimeSpan.FromMilliseconds(100));

        Assert.Equal(Enumerable.Range(0, Bound).Select(o => (long?)o), receiver.Requests.Select(x => x.Offset).Distinct().Order());
        var (status, metrics) = await admin.GetAsync("/metrics");
        Assert.Equal(200, status);
        Assert.Matches($@"(?m)^kcp_partition_waiting_for_commit\{{[^}}]*messaging_destination_partition_id=""0""[^}}]*\}} 1\b", metrics);
        Assert.Matches($@"(?m)^kcp_partition_uncommitted\{{[^}}]*messaging_destination_partition_id=""0""[^}}]*\}} {Bound}\b", metrics);

        cluster.Mock.ClearRequestErrors(KafkaApiKey.OffsetCommit);
        await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
        await admin.WaitForJsonAsync("/api/v1/routes/r", j => Partition(j) is { } p && p.GetProperty("committed_offset").GetInt64() == Count
            && !p.GetProperty("waiting_for_commit").GetBoolean() && p.GetProperty("uncommitted").GetInt64() == 0, "everything committed", Patience);
        DeliveryAssert.AllOnce(expected, receiver.Requests);
        Assert.Contains(kcp.StdOut, l => l.Contains($"Route r: {topic}/0 stopped fetching: {Bound} offsets fetched past its last successful commit (0) reach max_uncommitted", StringComparison.Ordinal));
        Assert.Contains(kcp.StdOut, l => l.Contains($"Route r: {topic}/0 committed at ", StringComparison.Ordinal) && l.Contains(": fetching again", StringComparison.Ordinal));
        Assert.Equal(Count, Delivered.CommittedOffsets(cluster.BootstrapServers, group, topic, 1)[0]);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    private static bool IsCommitFailure(string line) => line.Contains("Route r member 0: commit of [0:", StringComparison.Ordinal) && line.Contains("failed", StringComparison.Ordinal);

    private static JsonElement? Partition(JsonElement route) =>
        route.TryGetProperty("partitions", out var partitions) && partitions.ValueKind == JsonValueKind.Array && partitions.GetArrayLength() > 0
            ? partitions[0]
            : null;
}
