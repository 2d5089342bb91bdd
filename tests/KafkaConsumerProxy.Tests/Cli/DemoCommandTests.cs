using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary><c>kcp demo</c> as a new user runs it: everything embedded, nothing of their own needed.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_SmallRun_DeliversEverythingCommitsItAndExitsZero()
    {
        await using var demo = KcpProcess.Start("demo", "--messages", "300");

        Assert.Equal(0, await demo.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        var done = Assert.Single(demo.StdOut, l => l.StartsWith("Done:", StringComparison.Ordinal));
        Assert.Contains("all 300 messages delivered", done, StringComparison.Ordinal);
        Assert.Contains("committed offsets cover 300 of 300 messages", done, StringComparison.Ordinal);
        Assert.Contains(demo.StdOut, l => l.Contains("delivered      300/300", StringComparison.Ordinal));
        Assert.Contains(demo.StdOut, l => l.Contains("kcp run --config kcp.yaml", StringComparison.Ordinal));
    }
}
