using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Tests.Harness;
using KafkaConsumerProxy.Tests.Routes;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary><c>kcp demo --serve</c>: the dashboard URL is printed, the refused message can be skipped through the API.</summary>
public sealed class DemoServeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task DemoServe_PrintsDashboard_KeepsRunning_StuckMessageSkippedThroughTheApi_Issue9()
    {
        await using var demo = KcpProcess.Start("demo", "--messages", "40", "--serve");
        var line = await demo.WaitForOutputAsync(l => l.Contains("dashboard  http://127.0.0.1:", StringComparison.Ordinal), "the dashboard line", Patience);
        var url = new Uri(Regex.Match(line, @"http://127\.0\.0\.1:\d+/").Value);
        await demo.WaitForOutputAsync("refused by the endpoint every time", Patience);

        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        Assert.Contains("<title>kcp</title>", await http.GetStringAsync("/"), StringComparison.Ordinal);
        var (_, offset) = await Eventually.ValueAsync(
            async () =>
            {
                var body = await http.GetStringAsync("/api/v1/routes/demo-orders");
                using var doc = JsonDocument.Parse(body);
                foreach (var p in doc.RootElement.GetProperty("partitions").EnumerateArray())
                {
                    if (p.GetProperty("failing") is { ValueKind: JsonValueKind.Object } f && f.GetProperty("key").GetString() == "order-stuck")
                    {
                        Assert.Equal(422, f.GetProperty("last_status").GetInt32());
                        return (Body: body, Offset: (long?)f.GetProperty("offset").GetInt64());
                    }
                }

                return (Body: body, Offset: null);
            },
            route => route.Offset is not null,
            "the stuck order shown as failing",
            Patience,
            route => route.Body,
            TimeSpan.FromMilliseconds(200));
        // The stuck order is not being retried for a moment while the demo's two members rebalance (its delivery is
        // abandoned and starts again at the partition's owner): a skip asked then is refused with 409 and asked again.
        var skip = await Eventually.ValueAsync(
            async () =>
            {
                using var answer = await http.PostAsync($"/api/v1/routes/demo-orders/partitions/0/skip?offset={offset}", null);
                return (Status: answer.StatusCode, Body: await answer.Content.ReadAsStringAsync());
            },
            answer => answer.Status != HttpStatusCode.Conflict,
            "the skip of the stuck order taken",
            Patience,
            answer => $"{(int)answer.Status} {answer.Body}",
            TimeSpan.FromMilliseconds(200));
        Assert.True((int)skip.Status is >= 200 and < 300, skip.Body);
        Assert.False(demo.HasExited, demo.Tail());

        demo.SendSignal(KcpProcess.SigInt);
        Assert.Equal(0, await demo.WaitForExitAsync(Patience));
        Assert.Contains(demo.StdOut, l => l.StartsWith("Done: all 40 sample messages delivered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DemoServe_SigTerm_StopsItWithTheSummary_AsCtrlCDoes_StuckOrderCountedAsNeitherDeliveredNorSkipped_Issue19()
    {
        await using var demo = KcpProcess.Start("demo", "--messages", "10", "--serve");
        await demo.WaitForOutputAsync("refused by the endpoint every time", Patience);

        demo.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await demo.WaitForExitAsync(Patience));
        var done = Assert.Single(demo.StdOut, l => l.StartsWith("Done: all 10 sample messages delivered", StringComparison.Ordinal));
        Assert.Contains("committed offsets cover 10 of 11 messages", done, StringComparison.Ordinal);
        Assert.Contains("was neither delivered nor skipped: it stays uncommitted", done, StringComparison.Ordinal);
        Assert.DoesNotContain("none lost", done, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DemoServe_PrintsTheExactSkipCommand_WhichSkipsTheStuckOrder_SummaryCountsItSkipped_Issue19()
    {
        await using var demo = KcpProcess.Start("demo", "--messages", "10", "--serve");
        var line = await demo.WaitForOutputAsync(l => l.TrimStart().StartsWith("kcp skip ", StringComparison.Ordinal), "the kcp skip command", Patience);
        var command = line.Trim().Split(' ')[1..];
        Assert.Equal(["skip", "demo-orders"], command[..2]);
        Assert.Matches(@"^0:\d+$", command[2]);
        Assert.Equal("--config", command[3]);

        // The command as printed, through the real CLI; refused (exit 4) only while the demo's members rebalance.
        var (code, output) = await Eventually.ValueAsync(
            () => RoutesProcessTests.CliAsync(command),
            skip => skip.Code != 4,
            "the printed kcp skip command taken",
            Patience,
            skip => $"exit {skip.Code}: {skip.Output}",
            TimeSpan.FromMilliseconds(300));
        Assert.True(code == 0, output);
        Assert.Contains($"demo-orders partition 0 offset {command[2][2..]}: skipped", output, StringComparison.Ordinal);

        demo.SendSignal(KcpProcess.SigInt);
        Assert.Equal(0, await demo.WaitForExitAsync(Patience));
        var done = Assert.Single(demo.StdOut, l => l.StartsWith("Done: all 10 sample messages delivered", StringComparison.Ordinal));
        Assert.Contains("committed offsets cover 11 of 11 messages", done, StringComparison.Ordinal);
        Assert.Contains("was skipped", done, StringComparison.Ordinal);
    }
}
