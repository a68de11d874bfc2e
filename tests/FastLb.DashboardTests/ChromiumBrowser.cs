using Microsoft.Playwright;
using Xunit;

namespace FastLb.DashboardTests;

/// <summary>
/// Debian's chromium, headless through Playwright, launched once for every dashboard test (each test opens its own
/// browser context). Null <see cref="Browser"/> where chromium is not installed: the tests skip.
/// </summary>
public sealed class ChromiumBrowser : IAsyncLifetime
{
    // Starting chromium on a loaded 2-core machine can take tens of seconds, and a start may fail outright.
    private static readonly TimeSpan LaunchTimeout = TimeSpan.FromSeconds(90);
    private const int LaunchAttempts = 3;

    private IPlaywright? _playwright;

    public IBrowser? Browser { get; private set; }

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumFactAttribute.Path)) return;
        _playwright = await Playwright.CreateAsync().WaitAsync(LaunchTimeout);
        var options = new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Path,
            Args = ["--no-sandbox"],
            Headless = true,
            Timeout = (float)LaunchTimeout.TotalMilliseconds,
        };
        for (var attempt = 1; Browser is null; attempt++)
        {
            try
            {
                // Playwright ends a launch at its own timeout (and kills that chromium); the outer wait only backs it up.
                Browser = await _playwright.Chromium.LaunchAsync(options).WaitAsync(LaunchTimeout * 2);
            }
            catch (PlaywrightException) when (attempt < LaunchAttempts)
            {
            }
        }
    }

    /// <summary>A fresh context (1280×720, no shared cookies or pages) for one test; the test disposes it.</summary>
    public Task<IBrowserContext> NewContextAsync() => Browser!.NewContextAsync();

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync().AsTask().WaitAsync(LaunchTimeout);
        _playwright?.Dispose();
    }
}
