using System.Text;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>
/// One kcp with three routes in the states an operator triages, and one headless chromium on its dashboard, shared by
/// the tests of <see cref="TriageDashboardTests"/>:
/// <list type="bullet">
/// <item><c>orders</c>: five partitions whose one message each fails a different way (HTTP 500 with a body, a body that
/// is not JSON, a dropped connection, no answer in time, <c>Kcp-Action: retry</c>), 50 ms apart and without a circuit
/// breaker, so that every partition is blocked within seconds; bearer auth with <see cref="Secret"/>.</item>
/// <item><c>payments</c>: an endpoint port nobody listens on, retried every 10 minutes: failing, not blocked.</item>
/// <item><c>shipping</c>: a healthy endpoint that got <see cref="ShippingMessages"/> messages; a dead-letter topic.</item>
/// </list>
/// With <c>KCP_DASHBOARD_SCREENSHOTS</c> set to a folder, the tests save their screenshots there (docs/images).
/// </summary>
public sealed class TriageDashboard : IAsyncLifetime
{
    public const string Secret = "triage-bearer-secret-4711";
    public const int ShippingMessages = 6;
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TestCluster _cluster = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly RefusedPort _payments = new();
    private ProxyConfigWriter? _config;
    private string _shipping = "";

    public KcpProcess Kcp { get; private set; } = null!;

    internal AdminClient Admin { get; private set; } = null!;

    public HeadlessChromium Chromium { get; private set; } = null!;

    public IPage Page => Chromium.Page;

    /// <summary>Every POST the page sent, as its path and query.</summary>
    public List<string> Posts { get; } = [];

    /// <summary>How the page's next confirm dialog is answered: true accepts it.</summary>
    public bool AcceptDialogs { get; set; } = true;

    /// <summary>Every confirm dialog's question so far.</summary>
    public List<string> Dialogs { get; } = [];

    public int PaymentsPort { get; private set; }

    public int OrdersPort { get; private set; }

    public static string? ScreenshotFolder => Environment.GetEnvironmentVariable("KCP_DASHBOARD_SCREENSHOTS") is { Length: > 0 } folder ? folder : null;

    public async Task InitializeAsync()
    {
        HeadlessChromium.AssertInstalled();
        var orders = _cluster.CreateTopic("triage-orders", 5);
        var payments = _cluster.CreateTopic("triage-payments", 1);
        var shipping = _shipping = _cluster.CreateTopic("triage-shipping", 2);
        var failing = await Own(RecordingReceiver.StartAsync(r => r.Partition switch
        {
            0 => Fault.Status(500) with { Body = "stock service says: no such SKU" },
            1 => Fault.NonJson,
            2 => Fault.Abort,
            3 => Fault.None.After(TimeSpan.FromSeconds(3)),
            _ => Fault.Status(503) with { Headers = new Dictionary<string, string> { ["Kcp-Action"] = "retry" } },
        }));
        OrdersPort = failing.Port;
        var healthy = await Own(RecordingReceiver.StartAsync());
        PaymentsPort = _payments.Port;

        _config = new ProxyConfigWriter(_cluster.BootstrapServers);
        _config.AddRoute("orders", orders, Names.Unique("g"), failing.Port, new Dictionary<string, object>
        {
            ["retry_interval_ms"] = 50,
            ["exec_timeout_ms"] = 300,
            ["breaker_failures"] = 0,
        });
        // The secret goes in as YAML: the writer has no nested mappings.
        await File.AppendAllTextAsync(Path.Combine(_config.RoutesDir, "orders.yaml"), $"auth:\n  type: bearer\n  token: \"{Secret}\"\n");
        _config.AddRoute("payments", payments, Names.Unique("g"), PaymentsPort, new Dictionary<string, object>
        {
            ["retry_interval_ms"] = 600_000,
            ["retry_max_interval_ms"] = 600_000,
            ["breaker_failures"] = 0,
        });
        _config.AddRoute("shipping", shipping, Names.Unique("g"), healthy.Port, new Dictionary<string, object>
        {
            ["can_skip"] = true,
            ["retry_nums"] = 2,
            ["dead_letter_topic"] = shipping + "-dlq",
            ["concurrency"] = 2,
        });
        Kcp = KcpProcess.Run(_config.ConfigFile);
        Admin = await AdminClient.ConnectAsync(_config.StateDir, Kcp, null, Patience);
        await _cluster.ProduceAsync(orders, Enumerable.Range(0, 5).Select(p => (p, (byte[]?)Encoding.UTF8.GetBytes("k" + p), (byte[]?)Encoding.UTF8.GetBytes("order " + p))));
        await _cluster.ProduceAsync(payments, [(0, null, Encoding.UTF8.GetBytes("payment"))]);
        await _cluster.ProduceAsync(shipping, Enumerable.Range(0, ShippingMessages).Select(i => (i % 2, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes("parcel " + i))));
        await healthy.WaitForCountAsync(ShippingMessages, Patience);

        Chromium = await HeadlessChromium.LaunchAsync(Patience);
        Page.Dialog += async (_, dialog) =>
        {
            lock (Dialogs)
                Dialogs.Add(dialog.Message);
            if (AcceptDialogs)
                await dialog.AcceptAsync();
            else
                await dialog.DismissAsync();
        };
        Page.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                lock (Posts)
                    Posts.Add(new Uri(request.Url).PathAndQuery);
            }
        };
        await Page.GotoAsync(Admin.BaseAddress.ToString());
        await Page.Locator("body[data-loaded='true']").WaitForAsync();
    }

    /// <summary>
    /// Saves a screenshot of the page as <paramref name="name"/>.png when <see cref="ScreenshotFolder"/> is set, after
    /// 40 s more of traffic on <c>shipping</c>, so that its sparklines have a few points to show.
    /// </summary>
    public async Task ScreenshotAsync(string name)
    {
        if (ScreenshotFolder is not { } folder)
            return;
        for (var round = 1; round <= 4; round++)
        {
            await _cluster.ProduceAsync(_shipping, Enumerable.Range(0, 20 * round).Select(i => (i % 2, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes("parcel " + i))));
            await Task.Delay(TimeSpan.FromSeconds(10));
        }

        await Page.ReloadAsync();
        await Page.Locator("body[data-loaded='true']").WaitForAsync();
        Directory.CreateDirectory(folder);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    public async Task DisposeAsync()
    {
        if (Chromium is not null)
            await Chromium.DisposeAsync();
        Admin?.Dispose();
        if (Kcp is not null)
        {
            if (!Kcp.HasExited)
            {
                Kcp.SendSignal(KcpProcess.SigTerm);
                try
                {
                    await Kcp.WaitForExitAsync(Patience);
                }
                catch (TimeoutException)
                {
                    // Disposing kills it; the endpoints and the cluster below are still released.
                }
            }

            await Kcp.DisposeAsync();
        }

        foreach (var owned in _owned)
            await owned.DisposeAsync();
        _config?.Dispose();
        _cluster.Dispose();
        _payments.Dispose();
    }

    private async Task<T> Own<T>(Task<T> starting)
        where T : IAsyncDisposable
    {
        var started = await starting;
        _owned.Add(started);
        return started;
    }
}
