using System.Text;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// <c>async_concurrency</c> against the embedded cluster and a real endpoint: per-key order under failures, nothing
/// lost across a rebalance, commits that never pass an unfinished message, and the <c>max_pending</c> bound.
/// </summary>
public sealed class AsyncDeliveryTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public AsyncDeliveryTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task KeyOrdering_RandomFailures_SameKeyNeverInFlightTogetherAndAcceptedInOffsetOrder()
    {
        const int Partitions = 4, PerPartition = 100;
        var answerAfter = TimeSpan.FromMilliseconds(30);
        // Timers may fire a few milliseconds early (coarse clock); the margin keeps back-to-back requests apart.
        var margin = TimeSpan.FromMilliseconds(6);
        var topic = _cluster.CreateTopic("async-key", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        var flaky = FaultScript.Random(0.3, seed: 5, Fault.Errno());
        // Every answer comes answerAfter late, so requests of one key that overlapped would show in their arrival times.
        await using var receiver = await RecordingReceiver.StartAsync(r => flaky(r).After(answerAfter));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("async-key", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 16 });
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
            await proxy.StopAsync();
        }

        var requests = receiver.Requests;
        Assert.Contains(requests, r => r.Fault.IsFailure);
        foreach (var key in requests.GroupBy(r => (r.Partition, Key: r.Header("X-Kafka-Key"))))
        {
            var attempts = key.OrderBy(r => r.Sequence).ToList();
            for (var i = 1; i < attempts.Count; i++)
            {
                // The next message of a key is sent only after the previous one's answer, which comes answerAfter later.
                Assert.True(attempts[i].Offset >= attempts[i - 1].Offset, $"{key.Key}: offset {attempts[i].Offset} attempted after {attempts[i - 1].Offset}");
                Assert.True(attempts[i].ArrivedAt - attempts[i - 1].ArrivedAt >= answerAfter - margin,
                    $"{key.Key}: {attempts[i]} arrived while {attempts[i - 1]} was in flight");
            }

            var accepted = attempts.Accepted().Select(r => r.Offset!.Value).ToList();
            Assert.Equal(accepted.Order().Distinct(), accepted);
        }

        var overlap = MaxInFlight(requests, answerAfter - margin);
        Assert.True(overlap >= 8, $"different keys should run in parallel; at most {overlap} requests overlapped");
        Assert.True(overlap <= 16, $"async_concurrency 16 exceeded: {overlap} requests overlapped");
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task OrderingNone_FailuresAndAMemberJoiningMidway_NothingLostAndWhatWasNotCommittedIsDeliveredNext()
    {
        const int Partitions = 4, PerPartition = 150;
        var topic = _cluster.CreateTopic("async-none", Partitions);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, PerPartition));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Random(0.2, seed: 3, Fault.Status(503).After(TimeSpan.FromMilliseconds(5))));
        var keys = new Dictionary<string, object> { ["async_concurrency"] = 8, ["ordering"] = "none" };
        var configs = Enumerable.Range(0, 3).Select(_ => new ProxyConfigWriter(_cluster.BootstrapServers)).ToList();
        configs.ForEach(c => c.AddRoute("none", topic, group, receiver.Port, keys));
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => PerPartition);
        try
        {
            await using (var a = InProcessProxy.Start(configs[0].ConfigFile))
            {
                await receiver.WaitForAsync(r => r.Accepted().Count() >= 100, Patience);
                await using (var b = InProcessProxy.Start(configs[1].ConfigFile))
                {
                    // The join moves partitions away from the first member while its deliveries are in flight.
                    await b.WaitForLogAsync("partitions assigned", Patience);
                    await DeliveryAssert.AllArrivedAsync(receiver, expected, Patience);
                    await b.StopAsync();
                }

                await a.StopAsync();
            }

            // Whatever the two left uncommitted (a commit refused during the rebalance included) goes to the next owner.
            var committed = Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions);
            var before = receiver.Requests.Count;
            await using (var next = InProcessProxy.Start(configs[2].ConfigFile))
            {
                await receiver.WaitForAsync(
                    r => expected.Keys.All(p => Enumerable.Range((int)Math.Max(0, committed[p]), PerPartition - (int)Math.Max(0, committed[p]))
                        .All(o => r.Skip(before).Accepted().Any(x => x.Partition == p && x.Offset == o))),
                    Patience);
                await next.StopAsync();
            }
        }
        finally
        {
            configs.ForEach(c => c.Dispose());
        }

        Assert.True(receiver.Requests.AllAccepted(expected));
        Assert.Equal(expected.ToDictionary(p => p.Key, p => (long)p.Value), Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, Partitions));
    }

    [Fact]
    public async Task StuckMessages_FarBehindFinishedOnes_OthersDeliveredAndCommitStaysAtTheFirstStuck()
    {
        const int Count = 300;
        var topic = _cluster.CreateTopic("async-stuck", 1);
        var group = Names.Unique("g");
        // A key per message, so only the stuck messages themselves wait.
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Count).Select(o => (0, (byte[]?)Encoding.UTF8.GetBytes($"k{o}"), (byte[]?)Encoding.UTF8.GetBytes($"v{o}"))));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.When(r => r.Offset is 5 or 7, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // Two slots and two messages failing forever: retry waits must not hold the slots.
        config.AddRoute("stuck", topic, group, receiver.Port, new Dictionary<string, object> { ["async_concurrency"] = 2, ["retry_interval_ms"] = 50, ["can_skip"] = false });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => r.Accepted().Select(x => x.Offset).Distinct().Count() == Count - 2, Patience);
            await receiver.WaitForAsync(r => r.Count(x => x.Offset == 7) >= 3, Patience);
            await proxy.StopAsync();
        }

        Assert.DoesNotContain(receiver.Requests.Accepted(), r => r.Offset is 5 or 7);
        Assert.Equal(5, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task PendingBound_EndpointNotAnswering_NoMoreThanMaxPendingFetchedThenAllDelivered()
    {
        const int Count = 200, MaxPending = 10;
        var topic = _cluster.CreateTopic("async-bound", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Count).Select(o => (0, (byte[]?)Encoding.UTF8.GetBytes($"k{o}"), (byte[]?)Encoding.UTF8.GetBytes($"v{o}"))));
        var answering = false;
        // Held, not Delayed: a delayed answer would count as accepted on arrival, and the test could stop kcp while it retries.
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref answering) ? Fault.None : Fault.Held(TimeSpan.FromSeconds(30)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        // Attempts time out and are retried, all against the same fetched messages while fetching is paused.
        config.AddRoute("bound", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["async_concurrency"] = 64, ["max_pending"] = MaxPending, ["exec_timeout_ms"] = 400, ["retry_interval_ms"] = 10,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForAsync(r => Distinct(r) >= MaxPending, Patience);
            // Three rounds of timeouts and retries: any message fetched beyond the bound would have been sent by now.
            await receiver.WaitForAsync(r => r.Count >= 3 * MaxPending, Patience);
            Assert.Equal(Enumerable.Range(0, MaxPending).Select(o => (long)o), receiver.Requests.Select(r => r.Offset!.Value).Distinct().Order());

            Volatile.Write(ref answering, true);
            await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = Count }, Patience);
            // An answer the receiver gave may still reach kcp after the 400 ms exec_timeout_ms on a loaded machine: that
            // attempt is a timeout and the message is sent again. Stopping before then would leave it uncommitted (as it
            // must), so the stop waits for kcp to have finished and committed every message.
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == Count, $"all {Count} committed", Patience);
            await proxy.StopAsync();
        }

        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);

        static int Distinct(IReadOnlyList<ReceivedRequest> requests) => requests.Select(r => r.Offset).Distinct().Count();
    }

    /// <summary>The most requests that were waiting for their (delayed) answer at the same moment.</summary>
    private static int MaxInFlight(IReadOnlyList<ReceivedRequest> requests, TimeSpan answerAfter)
    {
        var events = requests.SelectMany(r => new[] { (At: r.ArrivedAt, Delta: 1), (At: r.ArrivedAt + answerAfter, Delta: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Delta);
        int current = 0, max = 0;
        foreach (var (_, delta) in events)
        {
            current += delta;
            max = Math.Max(max, current);
        }

        return max;
    }
}

/// <summary>The per-partition key order of <c>ordering: key</c>, without a cluster.</summary>
public sealed class KeySchedulerTests
{
    [Fact]
    public void TryAdmit_SameKeyWhileBusy_WaitsAndIsReleasedInOffsetOrder()
    {
        var keys = new KeyScheduler();
        var a0 = Record(0, "a");
        var a1 = Record(1, "a");
        var b2 = Record(2, "b");
        var a3 = Record(3, "a");

        Assert.True(keys.TryAdmit(a0));
        Assert.False(keys.TryAdmit(a1));
        Assert.True(keys.TryAdmit(b2));
        Assert.False(keys.TryAdmit(a3));
        Assert.Equal(2, keys.BusyKeys);

        Assert.Same(a1, keys.Release(a0));
        Assert.Null(keys.Release(b2));
        Assert.Same(a3, keys.Release(a1));
        Assert.Null(keys.Release(a3));
        Assert.Equal(0, keys.BusyKeys);
        Assert.True(keys.TryAdmit(Record(4, "b")));
    }

    [Fact]
    public void TryAdmit_KeysComparedByBytes_EqualContentIsOneKeyAndNullKeysAreOneKey()
    {
        var keys = new KeyScheduler();

        Assert.True(keys.TryAdmit(Record(0, "k")));
        Assert.False(keys.TryAdmit(Record(1, "k")));
        Assert.True(keys.TryAdmit(new KafkaRecord("t", 0, 2, 0, null, null)));
        Assert.False(keys.TryAdmit(new KafkaRecord("t", 0, 3, 0, null, null)));
        Assert.True(keys.TryAdmit(new KafkaRecord("t", 0, 4, 0, [], null)));

        Assert.Equal(3, keys.Release(new KafkaRecord("t", 0, 2, 0, null, null))?.Offset);
        Assert.Equal(1, keys.Release(Record(0, "k"))?.Offset);
    }

    private static KafkaRecord Record(long offset, string key) => new("t", 0, offset, 0, Encoding.UTF8.GetBytes(key), null);
}
