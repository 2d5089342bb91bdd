using KafkaConsumerProxy.Cli;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary><c>kcp offsets</c> as an operator runs it: a separate process, its output and exit code.</summary>
public sealed class OffsetsCommandTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public OffsetsCommandTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task ShowAndSet_AfterDelivery_PrintsPerPartitionTableAndSetsOffsets()
    {
        var topic = _cluster.CreateTopic("cli-offsets", 2);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, 5));
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("orders", topic, group, receiver.Port);
        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(10, Patience);
            await proxy.StopAsync();
        }

        await using (var show = KcpProcess.Start("offsets", "show", "--config", config.ConfigFile, "--route", "orders"))
        {
            Assert.Equal(0, await show.WaitForExitAsync(Patience));
            Assert.Contains(show.StdOut, l => l.Contains($"route orders: topic {topic}, group {group}", StringComparison.Ordinal));
            // partition, committed, local last done, log start, log end, lag, record cluster id (and no note: trusted)
            var clusterId = show.StdOut[0][(show.StdOut[0].IndexOf("(cluster id ", StringComparison.Ordinal) + 12)..^1];
            Assert.StartsWith("mockCluster", clusterId, StringComparison.Ordinal);
            Assert.Contains(show.StdOut, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["0", "5", "4", "0", "5", "0", var id] && id == clusterId);
            Assert.Contains(show.StdOut, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["1", "5", "4", "0", "5", "0", var id] && id == clusterId);
        }

        await using (var set = KcpProcess.Start("offsets", "set", "--config", config.ConfigFile, "--route", "orders", "0:1", "1:3"))
        {
            Assert.Equal(0, await set.WaitForExitAsync(Patience));
            Assert.Contains(set.StdOut, l => l.Contains("partition 0: next offset 1", StringComparison.Ordinal));
        }

        Assert.Equal(new Dictionary<int, long> { [0] = 1, [1] = 3 }, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 2));
    }

    [Fact]
    public async Task Set_PastTheLogEnd_RefusedUnlessForced_NextRunDeliversEveryMessage_Issue7()
    {
        const int Before = 24, After = 18;
        var topic = _cluster.CreateTopic("cli-offsets-past", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Before));
        await using var first = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, group, first.Port);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.WaitForAllAsync(first, DeliveryAssert.Offsets(1, Before), Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        }

        DeliveryAssert.AllOnce(DeliveryAssert.Offsets(1, Before), first.Requests);

        await using (var refused = KcpProcess.Start("offsets", "set", "r", "0:999999", "--config", config.ConfigFile))
        {
            Assert.Equal(1, await refused.WaitForExitAsync(Patience));
            Assert.Contains(refused.StdErr, l => l.Contains("partition 0: offset 999999 is outside the partition's log (low watermark 0, high watermark 24: an offset from 0 to 24 can be set)", StringComparison.Ordinal));
            Assert.Contains(refused.StdErr, l => l.Contains("nothing was changed; give --force", StringComparison.Ordinal));
        }

        Assert.Equal(Before, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);

        await using (var forced = KcpProcess.Start("offsets", "set", "--config", config.ConfigFile, "--route", "r", "0:999999", "--force"))
        {
            Assert.Equal(0, await forced.WaitForExitAsync(Patience));
            var notice = Assert.Single(forced.StdOut, l => l.StartsWith("--force: ", StringComparison.Ordinal));
            Assert.Contains("the group's committed offset 999999 lies past the log end 24, so the next kcp run finds it out of range and starts at the log start (0 now)", notice, StringComparison.Ordinal);
            Assert.Contains("(auto.offset.reset=earliest)", notice, StringComparison.Ordinal);
            Assert.Contains("local record is set to it too, lies outside the log and is ignored by that run", notice, StringComparison.Ordinal);
            Assert.Contains(forced.StdOut, l => l.Contains("partition 0: next offset 999999", StringComparison.Ordinal));
        }

        Assert.Equal(999_999, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
        await using (var show = KcpProcess.Start("offsets", "show", "--config", config.ConfigFile, "--route", "r"))
        {
            Assert.Equal(0, await show.WaitForExitAsync(Patience));
            Assert.Contains(show.StdOut, l => l.TrimStart().StartsWith("0 ", StringComparison.Ordinal) && l.Contains("999998", StringComparison.Ordinal) && l.Contains("OUTSIDE THE LOG: the next run ignores this record; COMMITTED OFFSET OUTSIDE THE LOG", StringComparison.Ordinal)
                && l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, "999999", "999998", "0", "24", "24", ..]);
        }

        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Before + After).Skip(Before));
        await using var second = await RecordingReceiver.StartAsync();
        config.AddRoute("r", topic, group, second.Port);
        var expected = DeliveryAssert.Offsets(1, Before + After);
        await using (var kcp = KcpProcess.Run(config.ConfigFile))
        {
            await DeliveryAssert.WaitForAllAsync(second, expected, Patience);
            kcp.SendSignal(KcpProcess.SigTerm);
            Assert.Equal(0, await kcp.WaitForExitAsync(Patience));

            // The group's offset is out of range, so it starts at the log start; nothing is filtered against the record.
            DeliveryAssert.AllOnce(expected, second.Requests);
            Assert.Contains(kcp.Output, l => l.Contains($"local offset record of {topic}/0 ignored: last done 999998 lies outside the partition's log (low watermark 0, high watermark {Before + After}", StringComparison.Ordinal));
            Assert.Contains(kcp.Output, l => l.Contains($"the group's committed offset 999999 of {topic}/0 lies outside the partition's log", StringComparison.Ordinal));
            Assert.DoesNotContain(kcp.Output, l => l.Contains("filtering repeats", StringComparison.Ordinal));
        }

        Assert.Equal(Before + After, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Fact]
    public async Task Set_BadArguments_ExplainsAndExitsNonZero()
    {
        var topic = _cluster.CreateTopic("cli-offsets-bad", 1);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("orders", topic, Names.Unique("g"), 1);

        await using var both = KcpProcess.Start("offsets", "set", "--config", config.ConfigFile, "--route", "orders", "0:1", "--to-latest");
        Assert.NotEqual(0, await both.WaitForExitAsync(Patience));
        Assert.Contains(both.StdErr, l => l.Contains("exactly one of", StringComparison.Ordinal));
        await using var bothPositional = KcpProcess.Start("offsets", "set", "orders", "0:1", "--to-latest", "--config", config.ConfigFile);
        Assert.Equal(2, await bothPositional.WaitForExitAsync(Patience));
        Assert.Contains(bothPositional.StdErr, l => l.Contains("exactly one of", StringComparison.Ordinal));

        await using var unknownRoute = KcpProcess.Start("offsets", "show", "--config", config.ConfigFile, "--route", "nope");
        Assert.Equal(4, await unknownRoute.WaitForExitAsync(Patience));
        Assert.Contains(unknownRoute.StdErr, l => l.Contains("no route named 'nope'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0:100", true)]
    [InlineData("0:1 1:250", true)]
    [InlineData("0-1", false)]
    [InlineData("x:1", false)]
    [InlineData("0:-5", false)]
    [InlineData("0:1 0:2", false)]
    public void ParsePairs_Input_AcceptsOnlyPartitionOffsetPairs(string input, bool valid)
    {
        Assert.Equal(valid, OffsetsCommand.ParsePairs(input.Split(' '), out _, out var error));
        Assert.Equal(valid, error.Length == 0);
    }
}
