using FastLb.Tests.Common;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace FastLb.DashboardTests;

/// <summary>The dashboard's service view of a model service: requests, tokens and time to first token per model and pool.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class ModelDashboardTests(ChromiumBrowser chromium) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly FakeOpenAiBackend _backend = FakeOpenAiBackend.Start("v1");
    private HttpLb? _lb;
    private IBrowserContext? _context;

    public async Task InitializeAsync()
    {
        _backend.TimeToFirstToken = TimeSpan.FromMilliseconds(100);
        _backend.CompletionTokens = 4;
        _lb = await HttpLb.StartAsync($$"""
            admin:
              listen: 127.0.0.1:0
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                models:
                  gpt-4o-latest: llm
                routes:
                  - service: llm
                token_limits: { per_key: { tokens_per_minute: 1, burst: 1 } }
            services:
              llm:
                pools: { v1: [ {{_backend.EndPoint}} ] }
            """);
        if (chromium.Browser is not null) _context = await chromium.NewContextAsync().WaitAsync(Timeout);
    }

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync().AsTask().WaitAsync(Timeout);
        if (_lb is not null) await _lb.DisposeAsync();
        await _backend.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [ChromiumFact]
    public async Task ModelService_ThePageShowsRequestsTokensAndTimeToFirstToken()
    {
        var page = await _context!.NewPageAsync();
        await page.GotoAsync($"http://{_lb!.Runtime.Admin!.EndPoint}/").WaitAsync(Timeout);
        await Expect(page.Locator("#conn")).ToHaveTextAsync("live", new() { Timeout = 10_000 });
        await Expect(page.Locator("#models-llm")).ToHaveCountAsync(0); // no model figures before the first request

        var ai = _lb.EndPoint;
        for (var i = 0; i < 3; i++)
        {
            await using var client = await SseTestClient.ConnectAsync(ai).WaitAsync(Timeout);
            await client.PostAsync("""{"model":"gpt-4o-latest","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b"}]}""").WaitAsync(Timeout);
            while (await client.ReadEventAsync().WaitAsync(Timeout) is not null)
            {
            }
        }

        // A key over its token budget: its first request is let in and charged when it ends, then FastLb refuses it.
        var answered = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Assert.True(clock.Elapsed < Timeout, "the key's bucket never refused");
            await using var client = await SseTestClient.ConnectAsync(ai).WaitAsync(Timeout);
            await client.PostAsync("""{"model":"gpt-4o-latest","messages":[{"role":"user","content":"a b"}]}""", "x-api-key: sk-dashboard\r\n").WaitAsync(Timeout);
            if (client.Status == 429) break;
            answered++;
        }

        var row = page.Locator("#model-llm-gpt-4o-latest-v1");
        await Expect(row.Locator(".requests")).ToHaveTextAsync($"{3 + answered}", new() { Timeout = 10_000 });
        await Expect(row.Locator(".tokens-in")).ToHaveTextAsync($"{6 + 2 * answered}");
        await Expect(row.Locator(".tokens-out")).ToHaveTextAsync($"{12 + 4 * answered}");
        var refused = page.Locator("#model-llm-gpt-4o-latest-_none");
        await Expect(refused).ToContainTextAsync("refused by token limits");
        await Expect(refused.Locator(".requests")).ToHaveTextAsync("1");
        await Expect(refused.Locator(".recent-429")).ToHaveTextAsync("1", new() { Timeout = 10_000 });
        // The last minute: once a second closed over them, the 4 answered requests show as a rate and a time to first token.
        await Expect(row.Locator(".ttft-p50")).Not.ToHaveTextAsync("–", new() { Timeout = 10_000 });
        Assert.True(double.Parse((await row.Locator(".recent-rps").TextContentAsync())!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        // Time to first token: at least the backend's 100 ms before its first event.
        var p50 = double.Parse((await row.Locator(".ttft-p50").TextContentAsync())!, System.Globalization.CultureInfo.InvariantCulture);
        var p99 = double.Parse((await row.Locator(".ttft-p99").TextContentAsync())!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(p50, 100, 10_000);
        Assert.InRange(p99, p50, 10_000);
    }
}
