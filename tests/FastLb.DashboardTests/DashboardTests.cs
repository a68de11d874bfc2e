using System.Net;
using System.Net.Sockets;
using FastLb.Host.Demo;
using FastLb.Tests.Common;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace FastLb.DashboardTests;

/// <summary>
/// The dashboard in a real headless browser (Debian's chromium through Playwright) against a running FastLb with
/// blue and green backends: what a user watching a release sees change.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class DashboardTests(ChromiumBrowser chromium) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The bar: a change shows on the page within 2 s (the page polls once a second).</summary>
    private static readonly LocatorAssertionsToContainTextOptions WithinTwoSeconds = new() { Timeout = 2000 };

    private readonly DemoBackend[] _backends = [new("blue-1"), new("blue-2"), new("green-1"), new("green-2")];
    private HttpLb? _lb;
    private IBrowserContext? _context;

    public async Task InitializeAsync()
    {
        foreach (var b in _backends) b.Start();
        _lb = await HttpLb.StartAsync($"""
            admin:
              listen: 127.0.0.1:0
            listeners:
              - name: web
                bind: 127.0.0.1:0
                routes:
                  - service: web
            services:
              web:
                active: blue
                drain_timeout: 60s
                pools:
                  blue: [ {_backends[0].EndPoint}, {_backends[1].EndPoint} ]
                  green: [ {_backends[2].EndPoint}, {_backends[3].EndPoint} ]
            """);
        if (chromium.Browser is not null) _context = await chromium.NewContextAsync().WaitAsync(Timeout);
    }

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync().AsTask().WaitAsync(Timeout);
        if (_lb is not null) await _lb.DisposeAsync();
        foreach (var b in _backends) await b.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    private string Dashboard => $"http://{_lb!.Runtime.Admin!.EndPoint}/";

    [ChromiumFact]
    public async Task Swap_ThePageShowsTheBarMoveBluesCountdownAndTheEvent()
    {
        var page = await _context!.NewPageAsync();
        await page.GotoAsync(Dashboard).WaitAsync(Timeout);
        await Expect(page.Locator("#bar-web [data-pool=blue]")).ToContainTextAsync("blue 100%", new() { Timeout = 10_000 });
        await Expect(page.Locator("#conn")).ToHaveTextAsync("live");
        await Expect(page.Locator("#pool-web-green .share")).ToHaveTextAsync("0%");

        // Traffic on blue, and one request still in flight there (its body is yet to come), so blue drains after the swap.
        var web = _lb!.EndPoint;
        for (var i = 0; i < 20; i++) await GetAsync(web);
        // A page opened after the traffic still draws it: FastLb keeps the 5-minute history, not the page.
        var late = await _context.NewPageAsync();
        await late.GotoAsync(Dashboard).WaitAsync(Timeout);
        await Expect(late.Locator("#pool-web-blue svg.spark title")).ToContainTextAsync("20 requests, 0 errors", new() { Timeout = 10_000 });
        await Expect(late.Locator("#svc-web tr.backend svg.spark title").First).ToContainTextAsync("requests");
        await late.CloseAsync().WaitAsync(Timeout);
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync(web).WaitAsync(Timeout);
        await slow.SendAsync("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n"u8.ToArray(), SocketFlags.None).WaitAsync(Timeout);
        await Expect(page.Locator("#pool-web-blue .live")).ToHaveTextAsync("1", new() { Timeout = 10_000 });

        await _lb.CtlOkAsync("swap web green");

        await Expect(page.Locator("#bar-web [data-pool=green]")).ToContainTextAsync("green 100%", WithinTwoSeconds);
        await Expect(page.Locator("#bar-web [data-pool=blue]")).ToHaveCountAsync(0);
        await Expect(page.Locator("#drain-web-blue")).ToContainTextAsync("draining: 1 live, deadline in", WithinTwoSeconds);
        await Expect(page.Locator("#events")).ToContainTextAsync("swap", WithinTwoSeconds);
        await Expect(page.Locator("#svc-web h2")).ToContainTextAsync("rollback → blue=100 green=0");
        var before = await page.Locator("#drain-web-blue").TextContentAsync();
        await Expect(page.Locator("#drain-web-blue")).Not.ToHaveTextAsync(before!, new() { Timeout = 3000 }); // the countdown runs
        await Expect(page.Locator("#pool-web-blue")).ToContainTextAsync("2/2 healthy");
        await Expect(page.Locator("#pool-web-green")).ToContainTextAsync("gate ok"); // the release gate's verdict per pool

        var shot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        Assert.True(new FileInfo(shot).Length > 0);

        // The request finishes: blue is drained.
        await slow.SendAsync("0123456789"u8.ToArray(), SocketFlags.None).WaitAsync(Timeout);
        await Expect(page.Locator("#drain-web-blue")).ToContainTextAsync("drained in", new() { Timeout = 10_000 });
    }

    [ChromiumFact]
    public async Task Rollout_ThePageShowsTheStepThenTheRollback()
    {
        var page = await _context!.NewPageAsync();
        await page.GotoAsync(Dashboard).WaitAsync(Timeout);
        await Expect(page.Locator("#bar-web [data-pool=blue]")).ToContainTextAsync("blue 100%", new() { Timeout = 10_000 });

        await _lb!.CtlOkAsync("rollout web green --steps 10,100 --interval 30s");
        await Expect(page.Locator("#rollout-web")).ToContainTextAsync("rollout green from blue: running step 1 of 2 (10%)", WithinTwoSeconds);
        await Expect(page.Locator("#bar-web [data-pool=green]")).ToContainTextAsync("green 10%", WithinTwoSeconds);

        await _lb.CtlOkAsync("abort web");
        await Expect(page.Locator("#rollout-web")).ToContainTextAsync("rollout web green aborted at step 10%: aborted by the operator", WithinTwoSeconds);
        await Expect(page.Locator("#bar-web [data-pool=green]")).ToHaveCountAsync(0);
    }

    [ChromiumFact]
    public async Task FastLbStops_ThePageSaysDisconnectedAndKeepsTheLastView()
    {
        var page = await _context!.NewPageAsync();
        await page.GotoAsync(Dashboard).WaitAsync(Timeout);
        await Expect(page.Locator("#bar-web [data-pool=blue]")).ToContainTextAsync("blue 100%", new() { Timeout = 10_000 });

        var admin = _lb!.Runtime.Admin!.EndPoint;
        await _lb.DisposeAsync();
        _lb = null;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(admin).WaitAsync(Timeout)); // nothing answers any more
        }

        await Expect(page.Locator("#conn")).ToHaveTextAsync("disconnected", new() { Timeout = 10_000 });
        await Expect(page.Locator("#bar-web [data-pool=blue]")).ToContainTextAsync("blue 100%");
    }

    private static async Task GetAsync(IPEndPoint endPoint)
    {
        using var cts = new CancellationTokenSource(Timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint, cts.Token);
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, cts.Token);
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
        {
        }
    }
}
