using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Cli;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Tests.Routes;

public sealed class RoutesTableTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void PrintTable_RoutesAndRejectedReload_OneAlignedLinePerRouteThenTheErrors()
    {
        var listing = new RoutesListing(
            [
                new RouteStatus("orders", "orders-topic", "g1", "default", 2, RouteState.Failed, At, "fatal Kafka client error: fenced", false, false, 3, At.AddSeconds(4), "fatal Kafka client error: fenced", At, 0),
                new RouteStatus("b", "t", "g2", "other", 1, RouteState.Stopped, At, "operator stop (route b, by control socket)", true, true, 0, null, null, null, 0),
            ],
            null,
            new ReloadResult(At, "files changed", false, ["routes/x.yaml: key 'retry_nums' = '-1': must be an integer from 0 to 2147483647"], [], [], [], [], []));
        using var output = new StringWriter();

        RoutesCommand.PrintTable(listing, output);

        var lines = output.ToString().Split('\n', StringSplitOptions.TrimEntries);
        Assert.StartsWith("ROUTE   STATE", lines[0], StringComparison.Ordinal);
        Assert.Equal(lines[0].IndexOf("SINCE", StringComparison.Ordinal), lines[1].IndexOf("2026-01-02T03:04:05Z", StringComparison.Ordinal));
        Assert.Contains("failed", lines[1], StringComparison.Ordinal);
        Assert.Contains("restart at 03:04:09", lines[1], StringComparison.Ordinal);
        Assert.Contains("03:04:05 fatal Kafka client error: fenced", lines[1], StringComparison.Ordinal);
        Assert.Contains("stopped (pause kept)", lines[2], StringComparison.Ordinal);
        Assert.Contains("Last rejected reload at 2026-01-02T03:04:05Z (files changed):", lines[4], StringComparison.Ordinal);
        Assert.Contains("key 'retry_nums' = '-1'", lines[5], StringComparison.Ordinal);
    }
}
