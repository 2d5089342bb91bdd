using System.Text;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>The dashboard's "Replay…" dialog in a real headless browser (<see cref="HeadlessChromium"/>).</summary>
public sealed class ReplayDashboardTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public ReplayDashboardTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task ReplayDialog_RefusesABadRange_ThenReplaysOffsets2To9ToASecondEndpoint_Issue21()
    {
        HeadlessChromium.AssertInstalled();
        var topic = _cluster.CreateTopic("replay-dash", 1);
        var group = Names.Unique("g");
        await using var live = await RecordingReceiver.StartAsync();
        await using var shadow = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("shop", topic, group, live.Port);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 12).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 12, "the live route delivering all 12", Patience);

        await using (var chromium = await HeadlessChromium.LaunchAsync(Patience))
        {
            var page = chromium.Page;
            await page.GotoAsync(admin.BaseAddress.ToString());
            await page.Locator("#routes tr[data-route='shop'] button[data-action='replay']").ClickAsync();
            await page.Locator("#replay-dialog").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
            Assert.Equal("shop", await page.Locator("#replay-route").InnerTextAsync());

            // No start: the API's reason is shown, nothing is sent.
            await page.FillAsync("#replay-to-offset", "9");
            await page.ClickAsync("#replay-start");
            await page.Locator("#replay-message", new PageLocatorOptions { HasTextString = "give exactly one of from_offset and from_time" }).WaitForAsync();

            await page.FillAsync("#replay-partitions", "0");
            await page.FillAsync("#replay-from-offset", "2");
            await page.FillAsync("#replay-endpoint", shadow.Url("/shadow").ToString());
            await page.ClickAsync("#replay-start");
            await page.Locator("#replay-progress[data-state='done']").WaitForAsync();
            Assert.Contains("8/8 offsets, 8 sent, 8 accepted, 0 failed", await page.Locator("#replay-progress").InnerTextAsync(), StringComparison.Ordinal);
        }

        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L], shadow.Requests.Select(r => r.Offset!.Value));
        Assert.Single(shadow.Requests.Select(r => r.Header("Kcp-Replay")).Distinct());
        Assert.Equal(12, live.Requests.Count);
        Assert.Equal(12, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }
}
