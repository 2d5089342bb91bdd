using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Cli;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Tests.Routes;

public sealed class RoutesTableTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void PrintTable_RoutesAndRejectedReload_OneAlignedLinePerRouteThenTheErrors_AgesRelative()
    {
        var listing = new RoutesListing(
            [
                new RouteStatus("orders", "orders-topic", "g1", "default", 2, RouteState.Failed, At, "fatal Kafka client error: fenced", false, false, 3, At.AddSeconds(4), "fatal Kafka client error: fenced", At, 0),
                new RouteStatus("b", "t", "g2", "other", 1, RouteState.Stopped, At, "operator stop (route b, by control socket)", true, true, 0, null, null, null, 0),
            ],
            null,
            new ReloadResult(At, "files changed", false, ["routes/x.yaml: key 'retry_nums' = '-1': must be an integer from 0 to 2147483647"], [], [], [], [], []));
        using var output = new StringWriter();

        RoutesCommand.PrintTable(listing, output, At.AddSeconds(1));

        var lines = output.ToString().Split('\n', StringSplitOptions.TrimEntries);
        Assert.StartsWith("ROUTE   STATE", lines[0], StringComparison.Ordinal);
        Assert.Equal(lines[0].IndexOf("TOPIC", StringComparison.Ordinal), lines[1].IndexOf("orders-topic", StringComparison.Ordinal));
        Assert.Contains("failed for 1s", lines[1], StringComparison.Ordinal);
        Assert.Contains("restart in 3s", lines[1], StringComparison.Ordinal);
        Assert.Contains("1s ago: fatal Kafka client error: fenced", lines[1], StringComparison.Ordinal);
        Assert.Contains("stopped (pause kept) for 1s", lines[2], StringComparison.Ordinal);
        Assert.Contains("Last rejected reload 1s ago (files changed):", lines[4], StringComparison.Ordinal);
        Assert.Contains("key 'retry_nums' = '-1'", lines[5], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(45, "45s")]
    [InlineData(130, "2m 10s")]
    [InlineData(120, "2m")]
    [InlineData(3 * 3600 + 5 * 60 + 7, "3h 5m")]
    [InlineData(2 * 86400 + 4 * 3600, "2d 4h")]
    [InlineData(-5, "0s")]
    public void Age_TwoLargestParts(int seconds, string expected) => Assert.Equal(expected, CliText.Age(TimeSpan.FromSeconds(seconds)));

    [Theory]
    [InlineData("BadStatus", "bad_status")]
    [InlineData("bad_status", "bad_status")]
    [InlineData("ConnectionError", "connection_error")]
    public void Outcome_AsTheMetricsLabelIt(string given, string expected) => Assert.Equal(expected, CliText.Outcome(given));

    [Theory]
    [InlineData("rejected_body", "rejected_body from 10.0.0.5:8080: errno 3: {}", "rejected_body from 10.0.0.5:8080: errno 3: {}")]
    [InlineData("auth_error", "auth_error, not sent to 10.0.0.5:8080: token_url down", "auth_error, not sent to 10.0.0.5:8080: token_url down")]
    [InlineData("bad_status", "HTTP 502 from 10.0.0.5:8080", "bad_status: HTTP 502 from 10.0.0.5:8080")]
    [InlineData("endpoint_retry", "Kcp-Action: retry with HTTP 200 from h", "endpoint_retry: Kcp-Action: retry with HTTP 200 from h")]
    [InlineData("timeout", "timeouts everywhere", "timeout: timeouts everywhere")]
    public void Failure_NamesTheOutcomeOnce_Issue19(string outcome, string reason, string expected) => Assert.Equal(expected, CliText.Failure(outcome, reason));
}
