using System.Globalization;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>
/// The dashboard as a triage page, in Debian's chromium (<see cref="TriageDashboard"/>: one kcp, one browser for the
/// class): health derived from the partitions, every failing head's reason, age, attempts and next attempt, the oldest
/// unfinished age, sparklines from the server's history, settings without secrets, buttons that match the state and
/// ask first, the filter, and the header; and the history API.
/// </summary>
public sealed class TriageDashboardTests : IClassFixture<TriageDashboard>
{
    /// <summary>How long a count on the page may take to reach what is expected, through the page's refreshes.</summary>
    private static readonly LocatorAssertionsToHaveCountOptions Within = new() { Timeout = (float)TriageDashboard.Patience.TotalMilliseconds };

    /// <summary>A failing head's last line when its next attempt is due: now, or within the second.</summary>
    private static readonly System.Text.RegularExpressions.Regex NextAttemptDue = new("\nnext attempt(: now| in 1s)$");

    private readonly TriageDashboard _kcp;

    public TriageDashboardTests(TriageDashboard kcp) => _kcp = kcp;

    private IPage Page => _kcp.Page;

    [Fact]
    public async Task RouteHealth_BlockedPartitionsShowRedBlocked_FailingOrange_HealthyGreenRunning_Issue19()
    {
        var orders = Page.Locator("#routes tr[data-route='orders'] td.health");
        await Page.Locator("#routes tr[data-route='orders'][data-health='blocked']").WaitForAsync();
        Assert.Contains("health-blocked", await orders.GetAttributeAsync("class"), StringComparison.Ordinal);
        Assert.StartsWith("blocked", await orders.InnerTextAsync(), StringComparison.Ordinal);
        // Every partition's message fails 10 times within a few seconds (50 ms apart, the slowest 300 ms a try).
        await Page.Locator("#routes tr[data-route='orders'] td.health", new PageLocatorOptions { HasTextString = "5 partitions blocked" }).WaitForAsync();
        // Read through the page's refreshes: a cell replaced between finding it and reading its style reads as "".
        await Assertions.Expect(orders).ToHaveCSSAsync("color", "rgb(187, 0, 0)", new LocatorAssertionsToHaveCSSOptions { Timeout = Within.Timeout });

        var payments = Page.Locator("#routes tr[data-route='payments'][data-health='failing'] td.health");
        await payments.WaitForAsync();
        Assert.Matches("^failing\\s+1 partition failing$", await payments.InnerTextAsync());
        Assert.Contains("health-failing", await payments.GetAttributeAsync("class"), StringComparison.Ordinal);

        var shipping = Page.Locator("#routes tr[data-route='shipping'][data-health='running'] td.health");
        await shipping.WaitForAsync();
        Assert.Matches("^running for \\d+(s|m \\d+s|m)$", await shipping.InnerTextAsync());
        await Assertions.Expect(shipping).ToHaveCSSAsync("color", "rgb(0, 119, 0)", new LocatorAssertionsToHaveCSSOptions { Timeout = Within.Timeout });

        // The API says the same.
        var listing = await _kcp.Admin.GetJsonAsync("/api/v1/routes");
        var health = listing.GetProperty("routes").EnumerateArray().ToDictionary(r => r.GetProperty("route").GetString()!, r => r.GetProperty("health").GetString());
        Assert.Equal("blocked", health["orders"]);
        Assert.Equal("failing", health["payments"]);
        Assert.Equal("running", health["shipping"]);
        await _kcp.ScreenshotAsync("dashboard");
    }

    [Fact]
    public async Task FailingHeads_ShowTheReasonOfEveryOutcome_TheirAgeAttemptsAndNextAttempt_Issue19()
    {
        var expected = new Dictionary<int, string>
        {
            [0] = "last: bad_status \u2014 HTTP 500 from 127.0.0.1:",
            [1] = "last: rejected_body from 127.0.0.1:",
            [2] = "last: connection_error from 127.0.0.1:",
            [3] = "last: timeout from 127.0.0.1:",
            [4] = "last: endpoint_retry \u2014 Kcp-Action: retry with HTTP 503 from 127.0.0.1:",
        };
        foreach (var (partition, reason) in expected)
        {
            var row = Page.Locator($"#partitions tr.blocked[data-route='orders'][data-partition='{partition}']");
            await row.WaitForAsync();
            // 50 ms after each failure: due now, on kcp's clock, or within the second when the page read it in those 50 ms.
            // A page read in the instant between a failure's recording and its next wait shows "being made now"; the
            // page's next refresh shows the wait.
            var text = await Eventually.ValueAsync(() => row.Locator("pre").InnerTextAsync(), t => NextAttemptDue.IsMatch(t), $"partition {partition}'s next attempt shown as due", TriageDashboard.Patience, interval: TimeSpan.FromMilliseconds(200));
            Assert.Contains(reason, text, StringComparison.Ordinal);
            Assert.Matches($"^offset 0, key k{partition}: blocked for \\d+(s|m \\d+s|m), \\d+ attempts\n", text);
            Assert.Matches("^offset 0 for \\d+", await row.Locator("td.oldest").InnerTextAsync());
        }

        Assert.Contains("body: stock service says: no such SKU", await Page.Locator("#partitions tr[data-route='orders'][data-partition='0'] pre").InnerTextAsync(), StringComparison.Ordinal);
        // The endpoint's markup is shown as text, never made into elements.
        var markup = Page.Locator("#partitions tr[data-route='orders'][data-partition='1'] pre");
        Assert.Contains("body: <html>oops</html>", await markup.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await markup.Locator("*").CountAsync());

        // Retried every 10 minutes: failing (not blocked), with its next attempt a relative time away.
        var payment = Page.Locator("#partitions tr.failing[data-route='payments'][data-partition='0']");
        await payment.WaitForAsync();
        Assert.DoesNotContain("blocked", await payment.GetAttributeAsync("class") ?? "", StringComparison.Ordinal);
        var paymentText = await payment.Locator("pre").InnerTextAsync();
        Assert.Matches("^offset 0: failing for \\d+(s|m \\d+s|m), 1 attempt\nlast: connection_error from 127.0.0.1:" + _kcp.PaymentsPort.ToString(CultureInfo.InvariantCulture), paymentText);
        Assert.Matches("\nnext attempt in (\\d+m )?\\d+s$", paymentText);

        // Nothing unfinished in a healthy partition: "-", never a raw -1.
        Assert.Equal("-", await Page.Locator("#partitions tr[data-route='shipping'][data-partition='0'] td.oldest").InnerTextAsync());
    }

    [Fact]
    public async Task Sparklines_AreDrawnFromTheServersHistory_Issue19()
    {
        // The page drew the route's deliveries above the baseline (once its history, read every 10 s, holds them).
        const string Delivered = "#routes tr[data-route='shipping'] svg.spark[data-series='delivered']";
        await Page.WaitForFunctionAsync($"() => {{ const l = document.querySelector(\"{Delivered} polyline\"); return l && l.getAttribute('points').split(' ').some(p => Number(p.split(',')[1]) < 22); }}");
        var history = await _kcp.Admin.GetJsonAsync("/api/v1/routes/shipping/history");
        Assert.Equal(10, history.GetProperty("step_seconds").GetDouble());
        Assert.Equal(900, history.GetProperty("window_seconds").GetDouble());
        var points = history.GetProperty("points").EnumerateArray().ToList();
        Assert.InRange(points.Count, 2, 91);
        Assert.Contains(points, p => p.GetProperty("delivered_per_second").GetDouble() > 0);

        // One polyline vertex per point of the history the page read.
        var spark = Page.Locator(Delivered);
        // Read at once: the page draws it again at each refresh.
        var read = await spark.EvaluateAsync<double[]>("s => [Number(s.dataset.points), ...s.querySelector('polyline').getAttribute('points').split(' ').map(p => Number(p.split(',')[1]))]");
        var (drawn, ys) = ((int)read[0], read[1..]);
        Assert.True(drawn >= 2, $"the sparkline has {drawn} points");
        Assert.Equal(drawn, ys.Length);
        Assert.Contains(ys, y => y < 22);
        Assert.Contains("delivered/s over the last", await spark.Locator("title").TextContentAsync(), StringComparison.Ordinal);
        foreach (var series in new[] { "failed", "lag" })
            Assert.Equal(1, await Page.Locator($"#routes tr[data-route='shipping'] svg.spark[data-series='{series}'] polyline").CountAsync());

        // A failing route's history counts its failed attempts, and its sparkline is drawn.
        await Page.Locator("#routes tr[data-route='orders'] svg.spark[data-series='failed'] polyline").WaitForAsync();
        var failed = await _kcp.Admin.GetJsonAsync("/api/v1/routes/orders/history");
        Assert.Contains(failed.GetProperty("points").EnumerateArray(), p => p.GetProperty("failed_per_second").GetDouble() > 0);
    }

    [Fact]
    public async Task HistoryApi_UnknownRoute404_PointsOldestFirstWithTheirFields_Issue19()
    {
        var (status, body) = await _kcp.Admin.GetAsync("/api/v1/routes/nope/history");
        Assert.Equal(404, status);
        using (var error = JsonDocument.Parse(body))
            Assert.Equal("no route named 'nope'", error.RootElement.GetProperty("error").GetString());

        // Its one message is unfinished: the group's lag is 1.
        var answer = await _kcp.Admin.WaitForJsonAsync("/api/v1/routes/payments/history", a => a.GetProperty("points").EnumerateArray().Last().GetProperty("lag").GetInt64() == 1,
            "the lag of payments' unfinished message", TriageDashboard.Patience);
        Assert.Equal("payments", answer.GetProperty("route").GetString());
        var points = answer.GetProperty("points").EnumerateArray().ToList();
        var times = points.Select(p => p.GetProperty("at").GetDateTimeOffset()).ToList();
        Assert.Equal(times.Order(), times);
        Assert.All(points, p => Assert.Equal(["at", "delivered_per_second", "failed_per_second", "lag"], p.EnumerateObject().Select(o => o.Name)));
    }

    [Fact]
    public async Task Settings_AreShown_WithoutTheAuthSecret_Issue19()
    {
        var row = Page.Locator("#settings tr[data-route='orders']");
        await row.WaitForAsync();
        Assert.Equal($"http://127.0.0.1:{_kcp.OrdersPort}/consume (response_check: errno)", await row.Locator("td.endpoint").InnerTextAsync());
        Assert.Equal("2 (at least once)", await row.Locator("td.mode").InnerTextAsync());
        Assert.StartsWith("never skips by itself", await row.Locator("td.skip-policy").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("none", await row.Locator("td.dead-letter").InnerTextAsync());
        Assert.Equal("bearer", await row.Locator("td.auth").InnerTextAsync());

        var shipping = Page.Locator("#settings tr[data-route='shipping']");
        Assert.EndsWith("-dlq", await shipping.Locator("td.dead-letter").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("2", await shipping.Locator("td.concurrency").InnerTextAsync());
        Assert.StartsWith("skips after 3 attempt(s)", await shipping.Locator("td.skip-policy").InnerTextAsync(), StringComparison.Ordinal);

        Assert.DoesNotContain(TriageDashboard.Secret, await Page.ContentAsync(), StringComparison.Ordinal);
        var (_, detail) = await _kcp.Admin.GetAsync("/api/v1/routes/orders");
        Assert.DoesNotContain(TriageDashboard.Secret, detail, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(detail);
        Assert.Equal("bearer", doc.RootElement.GetProperty("settings").GetProperty("auth").GetString());
    }

    [Fact]
    public async Task Buttons_MatchTheRoutesState_AndAskBeforeActing_Issue19()
    {
        var row = Page.Locator("#routes tr[data-route='shipping']");
        await Page.Locator("#routes tr[data-route='shipping'][data-health='running']").WaitForAsync();
        Assert.Equal(["pause", "stop", "restart", "replay"], await Actions(row));

        // Declined: nothing is sent.
        _kcp.AcceptDialogs = false;
        await row.Locator("button[data-action='pause']").ClickAsync();
        _kcp.AcceptDialogs = true;
        Assert.StartsWith("Pause route shipping?", _kcp.Dialogs[^1], StringComparison.Ordinal);

        await row.Locator("button[data-action='pause']").ClickAsync();
        await Page.Locator("#routes tr[data-route='shipping'][data-health='paused']").WaitForAsync();
        Assert.Equal(["resume", "stop", "restart", "replay"], await Actions(row));
        Assert.Contains("health-paused", await row.Locator("td.health").GetAttributeAsync("class"), StringComparison.Ordinal);

        await row.Locator("button[data-action='stop']").ClickAsync();
        await Page.Locator("#routes tr[data-route='shipping'][data-health='stopped']").WaitForAsync();
        Assert.Equal(["start", "replay"], await Actions(row));
        Assert.StartsWith("Stop route shipping? Its members leave group", _kcp.Dialogs[^1], StringComparison.Ordinal);

        await row.Locator("button[data-action='start']").ClickAsync();
        Assert.Equal("Start route shipping? Its members join its group again and stay paused until resumed.", _kcp.Dialogs[^1]);
        // Started, it is still paused (a start keeps the operator's pause): Resume, not Pause.
        await Page.Locator("#routes tr[data-route='shipping'][data-health='paused']").WaitForAsync();
        Assert.Equal(["resume", "stop", "restart", "replay"], await Actions(row));
        await row.Locator("button[data-action='resume']").ClickAsync();
        await Page.Locator("#routes tr[data-route='shipping'][data-health='running']").WaitForAsync();
        Assert.Equal(["pause", "stop", "restart", "replay"], await Actions(row));
        lock (_kcp.Posts)
        {
            Assert.Equal(["/api/v1/routes/shipping/pause", "/api/v1/routes/shipping/stop", "/api/v1/routes/shipping/start", "/api/v1/routes/shipping/resume"],
                _kcp.Posts.Where(p => p.Contains("shipping", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Filter_ShowsOnlyTheRowsHoldingEveryWord_Issue19()
    {
        var filter = Page.Locator("#filter");
        await Page.Locator("#partitions tr[data-route='orders'][data-partition='4']").WaitForAsync();
        try
        {
            await filter.FillAsync("payments");
            await Page.Locator("#routes tr[data-route='orders']").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Hidden });
            Assert.True(await Page.Locator("#routes tr[data-route='payments']").IsVisibleAsync());
            Assert.Equal(0, await Page.Locator("#partitions tr[data-route='orders']:visible").CountAsync());
            // Counted as the page refreshes: a route's partitions appear once its group has assigned them.
            await Assertions.Expect(Page.Locator("#partitions tr[data-route='payments']:visible")).ToHaveCountAsync(1, Within);

            // A partition as route/partition; it stays filtered through the page's refreshes.
            await filter.FillAsync("orders/3");
            await Page.Locator("#partitions tr[data-route='orders'][data-partition='3']").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
            Assert.Equal(1, await Page.Locator("#partitions tbody tr:visible").CountAsync());
            await Page.Locator("#updated").WaitForAsync();
            var updated = await Page.Locator("#updated").InnerTextAsync();
            await Page.Locator("#updated", new PageLocatorOptions { HasNotTextString = updated }).WaitForAsync();
            Assert.Equal(1, await Page.Locator("#partitions tbody tr:visible").CountAsync());
            Assert.Matches("^showing 1 of \\d+ routes and partitions$", await Page.Locator("#filter-count").InnerTextAsync());

            // By health: the blocked route and its partitions (each blocked after its tenth failed attempt, which a
            // busy machine may reach only a few refreshes later).
            await filter.FillAsync("blocked");
            await Page.Locator("#routes tr[data-route='payments']").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Hidden });
            await Assertions.Expect(Page.Locator("#routes tr[data-route='orders']")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = Within.Timeout });
            await Assertions.Expect(Page.Locator("#partitions tbody tr:visible")).ToHaveCountAsync(5, Within);
        }
        finally
        {
            await filter.FillAsync("");
        }

        Assert.Equal(3, await Page.Locator("#routes tbody tr:visible").CountAsync());
    }

    [Fact]
    public async Task Header_ShowsVersionAndInstance_Issue19()
    {
        var listing = await _kcp.Admin.GetJsonAsync("/api/v1/routes");
        var version = listing.GetProperty("version").GetString();
        Assert.False(string.IsNullOrEmpty(version));
        Assert.Equal("version " + version, await Page.Locator("#version").InnerTextAsync());
        Assert.Equal($"instance {Environment.MachineName} (pid {_kcp.Kcp.Id})", await Page.Locator("#instance").InnerTextAsync());
        Assert.Equal("service.instance.id " + listing.GetProperty("service_instance_id").GetString(), await Page.Locator("#instance").GetAttributeAsync("title"));

        // The page allows only its own script and style files, and no framing.
        using var http = new HttpClient { BaseAddress = _kcp.Admin.BaseAddress };
        using var page = await http.GetAsync("/");
        var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
        Assert.Contains("style-src 'self';", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        using var css = await http.GetAsync("/dashboard/app.css");
        Assert.Equal("text/css; charset=utf-8", css.Content.Headers.ContentType?.ToString());
    }

    private static async Task<string[]> Actions(ILocator row) =>
        [.. (await row.Locator("button").AllAsync()).Select(b => b.GetAttributeAsync("data-action").GetAwaiter().GetResult()!)];
}
