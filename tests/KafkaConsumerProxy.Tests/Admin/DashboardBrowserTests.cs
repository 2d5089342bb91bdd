using System.Text;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>The dashboard in a real headless browser (<see cref="HeadlessChromium"/>).</summary>
public sealed class DashboardBrowserTests : IClassFixture<TestCluster>
{
    private const string Token = "dashboard-token-0123456789";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TestCluster _cluster;

    public DashboardBrowserTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Dashboard_ShowsStuckMessage_SkipButtonSkipsIt_EndpointGetsTheNext_PageShowsTheSkip_Issue9()
    {
        HeadlessChromium.AssertInstalled();
        var topic = _cluster.CreateTopic("dash", 1);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 1, Fault.Status(500) with { Body = "endpoint refuses offset one" }));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("shop", topic, Names.Unique("g"), receiver.Port, new Dictionary<string, object> { ["retry_interval_ms"] = 200 });
        await File.WriteAllTextAsync(Path.Combine(config.Directory, "admin.token"), Token);
        await File.AppendAllTextAsync(config.ConfigFile, "  token_file: admin.token\n");
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, Token, Patience);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 3).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Count(x => x.Offset == 1) >= 1, Patience);

        await using (var chromium = await HeadlessChromium.LaunchAsync(Patience))
        {
            var page = chromium.Page;
            var dialogs = new List<string>();
            page.Dialog += async (_, dialog) =>
            {
                dialogs.Add(dialog.Message);
                await dialog.AcceptAsync();
            };

            await page.GotoAsync(admin.BaseAddress.ToString());

            // The endpoint needs a token: the page asks for it.
            await page.Locator("#token").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
            await page.FillAsync("#token-input", Token);
            await page.ClickAsync("#token-save");

            // The stuck message, with its attempts, status and body.
            var row = page.Locator("#partitions tr.failing[data-route='shop']");
            await row.WaitForAsync();
            var text = await row.InnerTextAsync();
            Assert.Contains("offset 1", text, StringComparison.Ordinal);
            Assert.Contains("HTTP 500", text, StringComparison.Ordinal);
            Assert.Contains("endpoint refuses offset one", text, StringComparison.Ordinal);
            // The route's health says its partition is failing, not a plain "running" (issue 19).
            Assert.Matches("^(failing|blocked|breaker open)", await page.Locator("#routes tr[data-route='shop'] .state").InnerTextAsync());

            // Failing alone 20 times in a row (200 ms apart), the message opens the route's circuit breaker: the route's
            // state says so. The skip below then ends a wait the open breaker holds.
            var breaker = page.Locator("#routes tr[data-route='shop'] .breaker-open");
            await breaker.WaitForAsync(new LocatorWaitForOptions { Timeout = (float)Patience.TotalMilliseconds });
            Assert.Matches("breaker (open|half-open) for \\d+", await breaker.InnerTextAsync());

            await row.Locator("button[data-action='skip']").ClickAsync();

            // The endpoint receives the next message; the page shows the skip and no failing message any more.
            await receiver.WaitForAsync(r => r.Accepted().Any(x => x.Offset == 2), Patience);
            await page.Locator("#skipped tr[data-route='shop'][data-offset='1']").WaitForAsync();
            Assert.Contains("yes", await page.Locator("#skipped tr[data-offset='1']").InnerTextAsync(), StringComparison.Ordinal);
            await page.Locator("#partitions tr.failing").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached });
            Assert.Contains(dialogs, d => d.StartsWith("Skip offset 1 of shop partition 0", StringComparison.Ordinal));
            Assert.DoesNotContain(receiver.Requests.Accepted(), r => r.Offset == 1);
        }

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }
}
