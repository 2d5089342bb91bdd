using System.Globalization;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Routes;

/// <summary>
/// A fleet of kcp processes on one embedded cluster, each with its own state_dir and admin port, sharing one route's
/// group, restarted one after another (SIGTERM, wait for the exit, start again) while a producer keeps writing. Each
/// instance delivers to its own path (<c>/i0</c>, <c>/i1</c>, ...), so the endpoint knows who delivered what. Measures
/// what docs/FLEET.md reports: lost and repeated messages, the longest gap between two deliveries of a partition, and
/// "bounces": a partition revoked from an instance and assigned next to that same instance, i.e. a partition that stayed
/// where it was but was stopped and started again (what an eager assignor does at every rebalance).
/// </summary>
internal static partial class RollingRestart
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(40);

    /// <summary>The figures of one run.</summary>
    internal sealed record Figures(
        string Assignor, int Instances, int Restarts, int Partitions, int Produced, int Lost, int Repeated, TimeSpan LongestGap,
        IReadOnlyDictionary<int, TimeSpan> GapPerPartition, int Revocations, IReadOnlyList<string> Bounced, TimeSpan Took)
    {
        /// <summary>Kept partitions stopped and started again; <see cref="Bounced"/> says which, in which life and when.</summary>
        public int Bounces => Bounced.Count;

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"assignor {Assignor}: {Instances} instances, {Partitions} partitions, {Produced} messages produced during {Restarts} restarts in {Took.TotalSeconds:0.0} s: lost {Lost}, repeated {Repeated}, longest gap {LongestGap.TotalMilliseconds:0} ms (per partition: {string.Join(", ", GapPerPartition.OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Value.TotalMilliseconds:0}"))}), revocations {Revocations}, of which kept partitions stopped and started again (bounces) {Bounces}{(Bounces > 0 ? $" [{string.Join("; ", Bounced)}]" : "")}");
    }

    /// <summary>Runs the fleet, restarts <paramref name="restarts"/> instances one after another, and returns the figures (asserting nothing itself).</summary>
    /// <param name="ratePerPartition">Messages produced per partition and second while the fleet runs.</param>
    public static async Task<Figures> RunAsync(TestCluster cluster, string assignor, int instances, int restarts, int partitions, int ratePerPartition, IReadOnlyDictionary<string, string> consumerConf)
    {
        var topic = cluster.CreateTopic("rolling", partitions);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        var configs = Enumerable.Range(0, instances).Select(_ => new ProxyConfigWriter(cluster.BootstrapServers, consumerConf)).ToList();
        for (var i = 0; i < instances; i++)
        {
            configs[i].AddRoute("rolling", topic, group, receiver.Port, new Dictionary<string, object>
            {
                ["url"] = $"/i{i}",
                ["assignor"] = assignor,
                ["concurrency"] = 1,
            });
        }

        var lives = new List<KcpProcess>();
        var current = new KcpProcess[instances];
        using var stopProducing = new CancellationTokenSource();
        var expected = new HashSet<(int Partition, long Offset)>();
        var producer = Task.Run(() => ProduceAsync(cluster, topic, partitions, ratePerPartition, expected, stopProducing.Token));
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            for (var i = 0; i < instances; i++)
            {
                current[i] = KcpProcess.Run(configs[i].ConfigFile);
                lives.Add(current[i]);
            }

            // Every instance delivers before the first restart: the group is settled.
            for (var i = 0; i < instances; i++)
            {
                var path = $"/i{i}";
                await receiver.WaitForAsync(r => r.Any(q => q.Path == path), Patience);
            }

            var measureFrom = TimeProvider.System.GetElapsedTime(started);
            for (var i = 0; i < restarts; i++)
            {
                current[i].SendSignal(KcpProcess.SigTerm);
                var code = await current[i].WaitForExitAsync(Patience);
                if (code != 0)
                {
                    throw new InvalidOperationException($"instance {i} exited with {code} after SIGTERM: {string.Join('\n', current[i].Output.TakeLast(20))}");
                }

                var seen = receiver.Requests.Count;
                current[i] = KcpProcess.Run(configs[i].ConfigFile);
                lives.Add(current[i]);
                var path = $"/i{i}";
                await receiver.WaitForAsync(r => r.Skip(seen).Any(q => q.Path == path), Patience);
            }

            await stopProducing.CancelAsync();
            await producer;
            var took = TimeProvider.System.GetElapsedTime(started) - measureFrom;
            await DeliveryAssert.WaitForAllAsync(receiver, expected, Patience);
            foreach (var kcp in current)
            {
                kcp.SendSignal(KcpProcess.SigTerm);
            }

            foreach (var kcp in current)
            {
                await kcp.WaitForExitAsync(Patience);
            }

            var comparison = DeliveryAssert.Compare(expected, receiver.Requests);
            var gaps = LongestGaps(receiver.Requests, measureFrom);
            var (revocations, bounced) = Bounces(lives);
            return new Figures(assignor, instances, restarts, partitions, expected.Count, comparison.Missing.Count + comparison.Unexpected.Count,
                comparison.RepeatCount, gaps.Values.DefaultIfEmpty().Max(), gaps, revocations, bounced, took);
        }
        finally
        {
            await stopProducing.CancelAsync();
            foreach (var kcp in lives)
            {
                await kcp.DisposeAsync();
            }

            foreach (var config in configs)
            {
                config.Dispose();
            }
        }
    }

    private static async Task ProduceAsync(TestCluster cluster, string topic, int partitions, int ratePerPartition, HashSet<(int, long)> expected, CancellationToken stop)
    {
        // Ten batches a second; each message carries a unique value.
        var perBatch = Math.Max(1, ratePerPartition / 10);
        var batch = 0;
        while (!stop.IsCancellationRequested)
        {
            var messages = Enumerable.Range(0, partitions).SelectMany(p => Enumerable.Range(0, perBatch)
                .Select(i => (p, (byte[]?)null, (byte[]?)System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{p}-{batch}-{i}"))))).ToList();
            foreach (var produced in await cluster.ProduceAsync(topic, messages))
            {
                lock (expected)
                {
                    expected.Add((produced.Partition.Value, produced.Offset.Value));
                }
            }

            batch++;
            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Per partition, the longest time between two deliveries that arrived after <paramref name="from"/>.</summary>
    private static Dictionary<int, TimeSpan> LongestGaps(IReadOnlyList<ReceivedRequest> requests, TimeSpan from) =>
        requests.Accepted().Where(r => r.ArrivedAt >= from && r.Partition is not null)
            .GroupBy(r => r.Partition!.Value)
            .ToDictionary(g => g.Key, g =>
            {
                var times = g.Select(r => r.ArrivedAt).Order().ToList();
                return times.Zip(times.Skip(1), (a, b) => b - a).DefaultIfEmpty().Max();
            });

    /// <summary>
    /// From every life's log: each revocation of a partition, and those of them followed by the next assignment of that
    /// partition (in any life) going to the same life, each named with its life and both times.
    /// </summary>
    private static (int Revocations, List<string> Bounced) Bounces(IReadOnlyList<KcpProcess> lives)
    {
        var events = new List<(DateTimeOffset At, int Life, bool Assigned, int Partition)>();
        for (var life = 0; life < lives.Count; life++)
        {
            foreach (var line in lives[life].Output)
            {
                if (Rebalance().Match(line) is not { Success: true } match)
                {
                    continue;
                }

                var at = DateTimeOffset.Parse(match.Groups["at"].Value, CultureInfo.InvariantCulture);
                var assigned = match.Groups["what"].Value == "assigned";
                foreach (var partition in match.Groups["partitions"].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries))
                {
                    events.Add((at, life, assigned, int.Parse(partition, CultureInfo.InvariantCulture)));
                }
            }
        }

        var ordered = events.OrderBy(e => e.At).ToList();
        var revocations = 0;
        var bounced = new List<string>();
        for (var i = 0; i < ordered.Count; i++)
        {
            var revoked = ordered[i];
            if (revoked.Assigned)
            {
                continue;
            }

            revocations++;
            var next = ordered.Skip(i + 1).FirstOrDefault(e => e.Assigned && e.Partition == revoked.Partition);
            if (next.Assigned && next.Life == revoked.Life)
            {
                bounced.Add(string.Create(CultureInfo.InvariantCulture, $"partition {revoked.Partition} in life {revoked.Life}: revoked {revoked.At:HH:mm:ss.fff}, assigned again {next.At:HH:mm:ss.fff}"));
            }
        }

        return (revocations, bounced);
    }

    [GeneratedRegex(@"^(?<at>\S+Z) .*member \d+: partitions (?<what>assigned|revoked) \[(?<partitions>[^\]]*)\]")]
    private static partial Regex Rebalance();
}
