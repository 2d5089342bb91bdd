using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Fleet;

/// <summary>The dashboard of one instance of a fleet, in a real headless browser (<see cref="HeadlessChromium"/>).</summary>
public sealed class FleetDashboardTests : IClassFixture<TestCluster>
{
    private readonly TestCluster _cluster;

    public FleetDashboardTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task Dashboard_ShowsOwnerColumn_AndThePartitionOwnedByTheOtherInstance_Issue17()
    {
        HeadlessChromium.AssertInstalled();
        var topic = _cluster.CreateTopic("fleetdash", 2);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        // The mock cluster answers no CreateTopics (it has no controller); kcp would create it at its first write, uncompacted.
        _cluster.Mock.CreateTopic(control, 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await using var b = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);

        await using var chromium = await HeadlessChromium.LaunchAsync(FleetNode.Patience);
        var page = chromium.Page;
        await page.GotoAsync(a.Admin.BaseAddress.ToString());
        Assert.Equal("owner", await page.Locator("#partitions thead th").Nth(2).InnerTextAsync());
        var theirs = page.Locator($"#partitions tr[data-route='rf'][data-instance='{b.Instance}']");
        await theirs.WaitForAsync(new LocatorWaitForOptions { Timeout = (float)FleetNode.Patience.TotalMilliseconds });
        Assert.Equal(b.Instance, await theirs.Locator("td.owner").InnerTextAsync());
        var ours = page.Locator($"#partitions tr[data-route='rf'][data-instance='{a.Instance}']");
        await ours.WaitForAsync(new LocatorWaitForOptions { Timeout = (float)FleetNode.Patience.TotalMilliseconds });
        Assert.Equal(a.Instance + " (this kcp)", await ours.Locator("td.owner").InnerTextAsync());
        Assert.Equal("", await page.Locator("#fleet").InnerTextAsync());
    }

    [Fact]
    public async Task Dashboard_ControlTopicRefused_SaysFleetViewUnavailable_WithTheCause_AndShowsItsOwnPartitions_Issue17()
    {
        HeadlessChromium.AssertInstalled();
        var topic = _cluster.CreateTopic("fleetdash-down", 1);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        _cluster.Mock.SetTopicError(control, Confluent.Kafka.ErrorCode.TopicAuthorizationFailed);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await a.WaitForPartitionsAsync("rf", p => p.Count == 1, "its partition");

        await using var chromium = await HeadlessChromium.LaunchAsync(FleetNode.Patience);
        var page = chromium.Page;
        await page.GotoAsync(a.Admin.BaseAddress.ToString());
        var fleet = page.Locator("#fleet");
        await Assertions.Expect(fleet).ToContainTextAsync("fleet view unavailable", new LocatorAssertionsToContainTextOptions { Timeout = (float)FleetNode.Patience.TotalMilliseconds });
        Assert.Contains(control, await fleet.InnerTextAsync(), StringComparison.Ordinal);
        await page.Locator("#partitions tr[data-route='rf']").First.WaitForAsync(new LocatorWaitForOptions { Timeout = (float)FleetNode.Patience.TotalMilliseconds });
    }
}
