using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary><c>kcp demo</c> as a new user runs it: everything embedded, nothing of their own needed.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_SmallRun_DeliversEverythingCommitsItSaysItEndsAndExitsZero_Issue19()
    {
        await using var demo = KcpProcess.Start("demo", "--messages", "300");

        Assert.Equal(0, await demo.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        var done = Assert.Single(demo.StdOut, l => l.StartsWith("Done:", StringComparison.Ordinal));
        Assert.Contains("all 300 sample messages delivered", done, StringComparison.Ordinal);
        Assert.Contains("committed offsets cover 300 of 300 messages", done, StringComparison.Ordinal);
        Assert.Contains(demo.StdOut, l => l.Contains("delivered      300/300", StringComparison.Ordinal));
        // The dashboard it printed ends with it, and the demo says so.
        Assert.Contains(demo.StdOut, l => l.Contains("open while the demo runs", StringComparison.Ordinal));
        Assert.Contains(demo.StdOut, l => l.StartsWith("The demo has ended, and its dashboard with it; kcp demo --serve keeps them running until Ctrl-C", StringComparison.Ordinal));
        Assert.Contains(demo.StdOut, l => l.Contains("kcp validate   then   kcp run", StringComparison.Ordinal));
    }
}
