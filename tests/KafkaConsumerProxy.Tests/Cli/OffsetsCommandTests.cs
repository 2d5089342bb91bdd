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
            // partition, committed, local last done, log start, log end, lag
            Assert.Contains(show.StdOut, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["0", "5", "4", "0", "5", "0"]);
            Assert.Contains(show.StdOut, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["1", "5", "4", "0", "5", "0"]);
        }

        await using (var set = KcpProcess.Start("offsets", "set", "--config", config.ConfigFile, "--route", "orders", "0:1", "1:3"))
        {
            Assert.Equal(0, await set.WaitForExitAsync(Patience));
            Assert.Contains(set.StdOut, l => l.Contains("partition 0: next offset 1", StringComparison.Ordinal));
        }

        Assert.Equal(new Dictionary<int, long> { [0] = 1, [1] = 3 }, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 2));
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

        await using var unknownRoute = KcpProcess.Start("offsets", "show", "--config", config.ConfigFile, "--route", "nope");
        Assert.Equal(2, await unknownRoute.WaitForExitAsync(Patience));
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
