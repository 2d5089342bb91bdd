using System.Text;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// Issue 7, sections 4, 6 and 7 end to end against the embedded cluster and a real endpoint: a partition whose delivery
/// throws is restarted and loses nothing while the others go on and commit; fetching pauses at the byte bound; a
/// partition paused when it was revoked is fetched again when it comes back.
/// </summary>
public sealed class FaultRecoveryTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public FaultRecoveryTests(TestCluster cluster) => _cluster = cluster;

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public async Task WorkerFault_OnceInOnePartition_PartitionRestartedEveryOffsetArrivesAndAllCommit_Issue7(int asyncConcurrency)
    {
        const int Partitions = 4, PerPartition = 50;
        var topic = _cluster.CreateTopic("fault-once", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var keys = new Dictionary<string, object> { ["async_concurrency"] = asyncConcurrency };
        if (asyncConcurrency > 0)
        {
            keys["ordering"] = "none";
        }

        config.AddRoute("fault", topic, group, receiver.Port, keys);

        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);
        var thrown = 0;
        using var fault = InjectedFaults.Register(topic, r => r.Partition == 1 && r.Offset == 20 && Interlocked.Exchange(ref thrown, 1) == 0);

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await WaitQuietlyAsync(receiver, r => r.AllAccepted(expected));
            await proxy.StopAsync();
            var logs = proxy.Logs;
            Assert.Contains(logs, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains($"{topic}/1@20", StringComparison.Ordinal));
            Assert.Contains(logs, l => l.Contains($"{topic}/1 restarted at offset", StringComparison.Ordinal));
        }

        Assert.Equal(1, thrown);
        AssertAllAccepted(receiver.Requests, expected);
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task WorkerFault_EveryTimeOnOneMessage_ThatPartitionStopsThereTheOthersDeliverAndCommitAtStop_Issue7()
    {
        const int Partitions = 3, PerPartition = 30;
        var topic = _cluster.CreateTopic("fault-always", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("fault", topic, group, receiver.Port);
        using var fault = InjectedFaults.Register(topic, r => r.Partition == 2 && r.Offset == 10);
        var others = new Dictionary<int, int> { [0] = PerPartition, [1] = PerPartition };

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await WaitQuietlyAsync(receiver, r => r.AllAccepted(others) && r.Accepted().Count(x => x.Partition == 2) >= 10);
            // Restarted (at most once a second), faulting again each time: never silent.
            await proxy.WaitForLogAsync($"{topic}/2 restarted at offset 10", Patience);
            await proxy.StopAsync();
            Assert.Contains(proxy.Logs, l => l.Contains("member 0 stopped", StringComparison.OrdinalIgnoreCase));
        }

        AssertAllAccepted(receiver.Requests, others);
        Assert.DoesNotContain(receiver.Requests, r => r.Partition == 2 && r.Offset >= 10);
        Assert.Equal(new Dictionary<int, long> { [0] = PerPartition, [1] = PerPartition, [2] = 10 }, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task ByteBound_BigValuesEndpointNotAnswering_NoMoreFetchedThanTheBoundAllowsThenAllDelivered_Issue7()
    {
        const int Count = 150, ValueBytes = 10 * 1024, BoundBytes = 100 * 1024;
        // Key "k{o}" (2-4 bytes) + 10 KiB: the tenth message brings the member to the bound.
        const int Allowed = (BoundBytes / ValueBytes) + 1;
        var topic = _cluster.CreateTopic("bytes-bound", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Count).Select(o => (0, (byte[]?)Encoding.UTF8.GetBytes($"k{o}"), (byte[]?)new byte[ValueBytes])));
        var answering = false;
        // Held, not Delayed: a delayed answer would count as accepted on arrival, and the test could stop kcp while it retries.
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref answering) ? Fault.None : Fault.Held(TimeSpan.FromSeconds(30)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // The count bound (10,000) is far away; async 64 would send every fetched message at once.
        config.AddRoute("bytes", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["async_concurrency"] = 64, ["ordering"] = "none", ["max_pending_bytes"] = BoundBytes, ["exec_timeout_ms"] = 400, ["retry_interval_ms"] = 10,
            ["format"] = "raw",
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => r.Select(x => x.Offset).Distinct().Count() >= Allowed - 1, Patience);
            // Three rounds of timeouts and retries: a message fetched beyond the bound would have been sent by now.
            await receiver.WaitForAsync(r => r.Count >= 3 * Allowed, Patience);
            var sent = receiver.Requests.Select(r => r.Offset!.Value).Distinct().Order().ToList();
            Assert.True(sent.Count <= Allowed, $"{sent.Count} messages pending at once ({string.Join(",", sent)}); the byte bound allows {Allowed}");
            Assert.Equal(Enumerable.Range(0, sent.Count).Select(o => (long)o), sent);

            Volatile.Write(ref answering, true);
            await WaitQuietlyAsync(receiver, r => r.AllAccepted(new Dictionary<int, int> { [0] = Count }));
            // An answer the receiver gave may still reach kcp after the 400 ms exec_timeout_ms on a loaded machine: that
            // attempt is a timeout and the message is sent again. Stopping before then would leave it uncommitted (as it
            // must), so the stop waits for kcp to have finished and committed every message.
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == Count, $"all {Count} committed", Patience);
            await proxy.StopAsync();
        }

        AssertAllAccepted(receiver.Requests, new Dictionary<int, int> { [0] = Count });
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task ByteBound_EveryMessageLargerThanTheBound_AllDeliveredOneAtATime_Issue7()
    {
        const int Count = 20;
        var topic = _cluster.CreateTopic("bytes-big", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Count).Select(o => (0, (byte[]?)null, (byte[]?)new byte[50_000])));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("big", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 8, ["max_pending_bytes"] = 1024, ["format"] = "raw" });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await WaitQuietlyAsync(receiver, r => r.AllAccepted(new Dictionary<int, int> { [0] = Count }));
            await proxy.StopAsync();
        }

        AssertAllAccepted(receiver.Requests, new Dictionary<int, int> { [0] = Count });
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task PausedPartition_RevokedAndAssignedBackToTheSameMember_FetchedAgain_Issue7()
    {
        const int Partitions = 2, PerPartition = 40, MaxPending = 5;
        var topic = _cluster.CreateTopic("paused-back", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        var answering = false;
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref answering) ? Fault.None : Fault.Status(503));
        var keys = new Dictionary<string, object> { ["async_concurrency"] = 8, ["ordering"] = "none", ["max_pending"] = MaxPending, ["retry_interval_ms"] = 20 };
        using var configA = new ProxyConfigWriter(_cluster.BootstrapServers);
        using var configB = new ProxyConfigWriter(_cluster.BootstrapServers);
        configA.AddRoute("back", topic, group, receiver.Port, keys);
        configB.AddRoute("back", topic, group, receiver.Port, keys);
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        await using (var a = InProcessProxy.Start(configA.ConfigFile))
        {
            // A owns both partitions and pauses each at max_pending: the endpoint refuses everything.
            await receiver.WaitForAsync(r => Enumerable.Range(0, Partitions).All(p => r.Count(x => x.Partition == p && x.Offset == MaxPending - 1) >= 2), Patience);
            await using (var b = InProcessProxy.Start(configB.ConfigFile))
            {
                // B's join moves one partition away from A, revoked while paused.
                await a.WaitForLogAsync("partitions revoked", Patience);
                await b.WaitForLogAsync("partitions assigned [", Patience);
                await b.StopAsync();
            }

            // B left: the partition comes back to A, whose client still remembers it paused.
            await WaitForCountAsync(a, "partitions assigned [", 2);
            Volatile.Write(ref answering, true);
            await WaitQuietlyAsync(receiver, r => r.AllAccepted(expected));
            await a.StopAsync();
        }

        AssertAllAccepted(receiver.Requests, expected);
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    private static Task WaitForCountAsync(InProcessProxy proxy, string text, int count) =>
        proxy.WaitForLogsAsync(logs => logs.Count(l => l.Contains(text, StringComparison.Ordinal)) >= count, $"{count} log lines containing '{text}'", Patience);

    /// <summary>Waits, bounded; a timeout is not the failure itself: the sets compared afterwards say what is missing.</summary>
    private static async Task WaitQuietlyAsync(RecordingReceiver receiver, Func<IReadOnlyList<ReceivedRequest>, bool> condition)
    {
        try
        {
            await receiver.WaitForAsync(condition, Patience);
        }
        catch (TimeoutException)
        {
            // Reported by the set comparison.
        }
    }

    private static void AssertAllAccepted(IReadOnlyList<ReceivedRequest> requests, IReadOnlyDictionary<int, int> expected)
    {
        var accepted = requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value)).ToHashSet();
        var missing = expected.SelectMany(p => Enumerable.Range(0, p.Value).Select(o => (p.Key, (long)o))).Where(m => !accepted.Contains(m)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} message(s) never accepted: {string.Join(", ", missing.Take(30).Select(m => $"{m.Item1}@{m.Item2}"))}");
    }
}
