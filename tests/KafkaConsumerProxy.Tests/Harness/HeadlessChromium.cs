using Microsoft.Playwright;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by Playwright, headless, with a profile of its
/// own that is removed afterwards; never a browser Playwright downloads. Disposing closes the browser.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowserContext _browser;
    private readonly DirectoryInfo _profile;

    private HeadlessChromium(IPlaywright playwright, IBrowserContext browser, DirectoryInfo profile, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        _profile = profile;
        Page = page;
    }

    /// <summary>The browser's one page; each of its waits gives up after the timeout given at launch.</summary>
    public IPage Page { get; }

    /// <summary>Fails the test, saying how to install it, when chromium is missing; call before the costly set-up.</summary>
    public static void AssertInstalled() =>
        Assert.True(File.Exists(Executable), $"{Executable} is missing: this test needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)");

    /// <summary>Starts chromium; <paramref name="timeout"/> bounds the launch and every wait of <see cref="Page"/>.</summary>
    public static async Task<HeadlessChromium> LaunchAsync(TimeSpan timeout)
    {
        AssertInstalled();
        var playwright = await Playwright.CreateAsync();
        var profile = Directory.CreateTempSubdirectory("kcp-chromium-");
        IBrowserContext? browser = null;
        try
        {
            browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Executable,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
                Timeout = (float)timeout.TotalMilliseconds,
            });
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            page.SetDefaultTimeout((float)timeout.TotalMilliseconds);
            return new HeadlessChromium(playwright, browser, profile, page);
        }
        catch
        {
            if (browser is not null)
            {
                await browser.DisposeAsync();
            }

            playwright.Dispose();
            Remove(profile);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        Remove(_profile);
    }

    private static void Remove(DirectoryInfo profile)
    {
        try
        {
            profile.Delete(recursive: true);
        }
        catch (IOException)
        {
            // chromium may still be writing its profile.
        }
    }
}
