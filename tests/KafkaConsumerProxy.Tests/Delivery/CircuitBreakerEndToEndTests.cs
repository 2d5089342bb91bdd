using System.Diagnostics;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The route's circuit breaker through the real delivery loop (config loader, consumer, workers), the embedded cluster
/// and a scripted endpoint that is down for a bounded outage.
/// </summary>
public sealed class CircuitBreakerEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(6);
    private const int Partitions = 4;
    private const int Bursts = 8;
    private readonly TestCluster _cluster;

    public CircuitBreakerEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task EndpointDownFor6s_BreakerProbesOnceASecond_NothingSkipped_AllDeliveredSoonAfter_Issue20()
    {
        var topic = _cluster.CreateTopic("breaker", Partitions);
        var group = Names.Unique("g");
        var down = 0;
        await using var receiver = await RecordingReceiver.StartAsync(_ => Volatile.Read(ref down) == 1 ? Fault.Status(503) : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);

        // Without the breaker each message would use up its 3 retries 100 ms apart and be skipped within half a second.
        config.AddRoute("breaker", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["can_skip"] = true, ["retry_nums"] = 3, ["retry_interval_ms"] = 100,
        });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(Partitions, 1));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= Partitions, Patience);
        Assert.Equal("closed", proxy.Metrics.Breaker("breaker")?.State);

        // The outage: messages keep coming, a burst to every partition each 0.5 s, while the endpoint answers 503.
        Volatile.Write(ref down, 1);
        var outage = Stopwatch.StartNew();
        for (var burst = 0; burst < Bursts; burst++)
        {
            await _cluster.ProduceAsync(topic, Enumerable.Range(0, Partitions).Select(p => (p, (byte[]?)null, (byte[]?)"during the outage"u8.ToArray())));
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        await proxy.WaitForLogAsync("circuit breaker open after 20 consecutive failed attempts", Patience);
        Assert.Contains(proxy.Metrics.Breaker("breaker")?.State, new[] { "open", "half-open" });
        if (Outage - outage.Elapsed is { Ticks: > 0 } rest)
        {
            // The outage lasts as long as it lasts: this wait is the scenario, not an assertion.
            await Task.Delay(rest);
        }

        // The outage as it lasted (the bursts and the wait for the log may run past Outage on a busy machine).
        var lasted = outage.Elapsed;
        var failed = receiver.Requests.Where(r => r.Fault.IsFailure).ToList();
        Volatile.Write(ref down, 0);
        var back = receiver.Now;
        var expected = Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => 1 + Bursts);
        await receiver.WaitForAsync(r => r.AllAccepted(expected), Patience);
        // On the receiver's clock: from the endpoint's return to the last message's arrival.
        var catchUp = receiver.Requests.Accepted().Max(r => r.ArrivedAt) - back;
        await proxy.WaitForLogAsync("circuit breaker closed after", Patience);

        // Everything delivered, once and in order per partition, within a few seconds of the endpoint's return: at most
        // one probe interval (1 s) before the probe that closes the breaker, then the slow start.
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, expected);
        Assert.True(catchUp < TimeSpan.FromSeconds(8), $"all delivered {catchUp.TotalSeconds:F1} s after the endpoint came back");

        // Nothing skipped or dead-lettered: the retries ran out for no message.
        Assert.Equal("", File.Exists(config.SkipFile) ? await File.ReadAllTextAsync(config.SkipFile) : "");
        Assert.Equal(0, proxy.Metrics.Skipped);

        // Into the outage: the 20 failures that opened the breaker, the attempts already in flight then (one per
        // partition at most), and one probe a second after that (the outage, less the time it took to open) - not the
        // dozens of attempts a second of four partitions retrying every 100 ms.
        Assert.InRange(failed.Count, 20, 20 + (Partitions - 1) + (int)Math.Ceiling(lasted.TotalSeconds) + 1);
        var probes = failed.Skip(20 + Partitions - 1).ToList();
        for (var i = 1; i < probes.Count; i++)
        {
            var gap = probes[i].ArrivedAt - probes[i - 1].ArrivedAt;
            Assert.True(gap >= TimeSpan.FromMilliseconds(900), $"probes {gap.TotalMilliseconds:F0} ms apart: {probes[i - 1]} then {probes[i]}");
        }

        Assert.Single(proxy.Logs, l => l.Contains("circuit breaker open after", StringComparison.Ordinal));
        Assert.Single(proxy.Logs, l => l.Contains("circuit breaker closed after", StringComparison.Ordinal));
        Assert.Equal("closed", proxy.Metrics.Breaker("breaker")?.State);
    }
}
