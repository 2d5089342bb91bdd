using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// The real kcp process with its <c>state_dir</c> on a small tmpfs that fills up while it runs (issue 7, section 4):
/// a skip that cannot be recorded stops its partition with an error at once, nothing is committed past it, and it goes
/// on once there is space again, leaving whole lines only.
/// </summary>
public sealed class StateDirFailureTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public StateDirFailureTests(TestCluster cluster)
    {
        _cluster = cluster;
    }

    [SkippableFact]
    public async Task StateDirFull_SkipCannotBeRecorded_PartitionStopsWithErrorAtOnceAndGoesOnWhenThereIsSpace_Issue7()
    {
        const int Count = 10, Failing = 3;
        var topic = _cluster.CreateTopic("statedir-full", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Count));
        using var filled = new ManualResetEventSlim();
        // Nothing is answered until the disk is full; then offset 3 fails every time and is skipped.
        await using var receiver = await RecordingReceiver.StartAsync(r =>
        {
            filled.Wait(Patience);
            return r.Offset == Failing ? Fault.Status(500) : Fault.None;
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("full", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = true, ["retry_nums"] = 1, ["exec_timeout_ms"] = 30_000 });
        using var disk = SmallDisk.TryMount(256 * 1024, config.StateDir);
        // Mounting needs root (CAP_SYS_ADMIN) on Linux; without it the full disk is covered at the file level by
        // SkipLogTests, which simulates the failing write instead, and this test reports itself skipped.
        Skip.If(disk is null, "this process may not mount a tmpfs");

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await kcp.WaitForOutputAsync("partitions assigned", Patience);
        var filler = disk.Fill();
        filled.Set();

        await kcp.WaitForOutputAsync($"{topic}/0@{Failing} could not be written", Patience);
        // Sync delivery: the partition waits for the record; nothing behind the skipped message is sent or committed.
        Assert.DoesNotContain(receiver.Requests, r => r.Offset > Failing);
        Assert.True(Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0] <= Failing);

        File.Delete(filler);
        await receiver.WaitForAsync(r => r.AllAccepted(new Dictionary<int, int> { [0] = Count }) || r.Accepted().Count() == Count - 1, Patience);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        var accepted = receiver.Requests.Accepted().Select(r => r.Offset!.Value).ToHashSet();
        var missing = Enumerable.Range(0, Count).Select(o => (long)o).Where(o => o != Failing && !accepted.Contains(o)).ToList();
        Assert.True(missing.Count == 0, $"never accepted: {string.Join(",", missing)}");
        var lines = File.ReadAllText(config.SkipFile);
        Assert.EndsWith("\n", lines, StringComparison.Ordinal);
        var skipped = Assert.Single(lines.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(Failing, JsonDocument.Parse(skipped).RootElement.GetProperty("offset").GetInt64());
        Assert.Contains(kcp.Output, l => l.Contains($"{topic}/0@{Failing} written to", StringComparison.Ordinal));
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [SkippableFact]
    public async Task StateDirFullAtStartAndAssignment_Mode1_StartsAndDeliversEverything_NoDamagedRecordNoTmp_Issue23()
    {
        const int Count = 20;
        var topic = _cluster.CreateTopic("statedir-full-assign", 2);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, Count));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("full", topic, group, receiver.Port);
        using var disk = SmallDisk.TryMount(256 * 1024, config.StateDir);
        Skip.If(disk is null, "this process may not mount a tmpfs");
        var filler = disk.Fill();

        // Full before kcp starts: admin.json and every local record fail; mode 1 delivers on, committing to Kafka.
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = Count, [1] = Count }, Patience);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c[0] == Count && c[1] == Count, $"both partitions committed at {Count}", Patience);

        Assert.Contains(kcp.Output, l => l.Contains("admin.json could not be written", StringComparison.Ordinal));
        Assert.Contains(kcp.Output, l => l.Contains("cannot be created", StringComparison.Ordinal) && l.Contains("delivered without it", StringComparison.Ordinal));
        Assert.DoesNotContain(kcp.Output, l => l.Contains("restart", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(Directory.EnumerateFiles(config.StateDir, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(config.StateDir, ".*.tmp", SearchOption.AllDirectories));

        // With space again, a restart finds no damaged record and starts from the commits: nothing is repeated.
        File.Delete(filler);
        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        var before = receiver.Requests.Count;
        await using var again = KcpProcess.Run(config.ConfigFile);
        await again.WaitForOutputAsync("partitions assigned", Patience);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, 1));
        await receiver.WaitForAsync(r => r.Count >= before + 2, Patience);
        Assert.DoesNotContain(again.Output, l => l.Contains("damaged", StringComparison.Ordinal));
        Assert.Equal(before + 2, receiver.Requests.Count);
        again.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await again.WaitForExitAsync(Patience));
    }
}
