using System.Diagnostics;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// Idle keep-alive connections park after a second without a request and resume on their next bytes: what a client
/// sees must not change (same connection, same answers, keep-alive deadline, closes on stop and FIN).
/// </summary>
public class IdleParkTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static Task<HttpLb> StartAsync(RawHttpBackend backend, string keepAlive = "30s") =>
        HttpLb.StartAsync(OneServiceConfig.Yaml([("main", [backend])], defaultsExtra: $"  keepalive_timeout: {keepAlive}"));

    private static Task WaitParkedAsync(HttpLb lb, int count) =>
        HttpLb.WaitUntilAsync(() => Task.FromResult(lb.Server.ParkedConnections == count), $"{count} parked connection(s)");

    [Fact]
    public async Task IdleConnection_Parks_ThenNextRequestOnSameConnectionIsAnswered()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend);
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/one").WaitAsync(Timeout)).Status);

        await WaitParkedAsync(lb, 1);
        var status = await lb.CtlOkAsync("status");
        Assert.Equal(1, status.GetProperty("connections").GetProperty("parked").GetInt32());
        Assert.Equal(1, lb.Server.LiveConnections);

        var second = await client.GetAsync("/two").WaitAsync(Timeout);
        Assert.True(second.Status == 200 && second.Backend == "park-1", second.ToString());
        Assert.Equal(0, lb.Server.ParkedConnections);
        Assert.Equal(["/one", "/two"], backend.Requests.Select(r => r.Target));
        // It parks again after its next idle second, and serves again.
        await WaitParkedAsync(lb, 1);
        Assert.Equal(200, (await client.GetAsync("/three").WaitAsync(Timeout)).Status);
        Assert.Equal(1, lb.Server.LiveConnections);
    }

    [Fact]
    public async Task ParkedConnection_RequestWithBodyAndPipelinedSecond_BothForwardedIntact()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend);
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/warm").WaitAsync(Timeout)).Status);
        await WaitParkedAsync(lb, 1);

        // The wake-up bytes are a whole request with a body and a second request behind it.
        await client.SendAsync("POST /a HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);
        var first = await client.ReadFinalResponseAsync().WaitAsync(Timeout);
        var second = await client.ReadFinalResponseAsync().WaitAsync(Timeout);

        Assert.Equal(200, first.Status);
        Assert.Equal(200, second.Status);
        Assert.Equal(["/warm", "/a", "/b"], backend.Requests.Select(r => r.Target));
        Assert.Equal("hello", Encoding.ASCII.GetString(backend.Requests.ElementAt(1).Body));
    }

    [Fact]
    public async Task ParkedConnection_ClientNamedByProxyHeader_StillTheClientAfterResuming()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                accept_proxy: { versions: [v1], trusted: [127.0.0.1] }
                routes:
                  - service: web
            services:
              web:
                pools:
                  main: [ {{backend.EndPoint}} ]
            """);
        await using var client = await lb.ConnectAsync();
        var first = await client.RequestAsync("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET /one HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);
        Assert.Equal(200, first.Status);
        await WaitParkedAsync(lb, 1);

        Assert.Equal(200, (await client.GetAsync("/two").WaitAsync(Timeout)).Status);

        Assert.All(backend.Requests, r => Assert.Equal(["203.0.113.9"], r.Head.All("x-forwarded-for")));
    }

    [Fact]
    public async Task ParkedConnection_KeepAliveTimeoutStillCountsFromTheLastResponse()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend, keepAlive: "3s");
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/one").WaitAsync(Timeout)).Status);
        var clock = Stopwatch.StartNew();
        await WaitParkedAsync(lb, 1);

        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(8)).WaitAsync(Timeout);

        Assert.True(closed && extra.Length == 0, "the parked connection was not closed quietly at keepalive_timeout (3s)");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2.7), TimeSpan.FromSeconds(6));
        await HttpLb.WaitUntilAsync(() => Task.FromResult(lb.Server.LiveConnections == 0 && lb.Server.ParkedConnections == 0), "the connection counted closed");
    }

    [Fact]
    public async Task ParkedConnection_ClientCloses_ConnectionEndsAndIsNoLongerCounted()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend);
        var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/one").WaitAsync(Timeout)).Status);
        await WaitParkedAsync(lb, 1);

        await client.DisposeAsync();

        await HttpLb.WaitUntilAsync(() => Task.FromResult(lb.Server.LiveConnections == 0 && lb.Server.ParkedConnections == 0), "the closed connection uncounted");
    }

    [Fact]
    public async Task ParkedConnections_ServerStops_EachClosedQuickly()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        var lb = await StartAsync(backend);
        var clients = new List<HttpClientConnection>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var c = await lb.ConnectAsync();
                clients.Add(c);
                Assert.Equal(200, (await c.GetAsync($"/{i}").WaitAsync(Timeout)).Status);
            }
            await WaitParkedAsync(lb, 20);
            var clock = Stopwatch.StartNew();

            await lb.Server.StopAsync(TimeSpan.FromSeconds(5)).WaitAsync(Timeout);

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"stopping with 20 parked connections took {clock.Elapsed}");
            foreach (var c in clients)
            {
                var (closed, extra) = await c.WaitForCloseAsync(TimeSpan.FromSeconds(3)).WaitAsync(Timeout);
                Assert.True(closed && extra.Length == 0, "a parked connection was not closed cleanly at stop");
            }
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
            await lb.DisposeAsync();
        }
    }

    [Fact]
    public async Task ParkedConnection_AskedToCloseAfterResponse_NextRequestAnsweredWithConnectionClose()
    {
        // What a process hand-off asks of every connection (ProxyListener.RequestCloseAllAfterResponse).
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend);
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/one").WaitAsync(Timeout)).Status);
        await WaitParkedAsync(lb, 1);

        foreach (var connection in lb.Server.Connections) ((FastLb.Proxy.IProxyConnection)connection).RequestCloseAfterResponse();
        var last = await client.GetAsync("/two").WaitAsync(Timeout);

        Assert.Equal(200, last.Status);
        Assert.Equal("close", last.Head["connection"]);
        var (closed, _) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Timeout);
        Assert.True(closed, "the connection stayed open after its Connection: close response");
    }

    [Fact]
    public async Task ManyParkedConnections_WokenTogether_EveryRequestAnswered()
    {
        await using var backend = RawHttpBackend.Start("park-1");
        await using var lb = await StartAsync(backend);
        const int n = 200;
        var clients = new HttpClientConnection[n];
        try
        {
            for (var i = 0; i < n; i++)
            {
                clients[i] = await lb.ConnectAsync();
                Assert.Equal(200, (await clients[i].GetAsync($"/first/{i}").WaitAsync(Timeout)).Status);
            }
            await WaitParkedAsync(lb, n);

            var answers = await Task.WhenAll(clients.Select((c, i) => c.GetAsync($"/second/{i}"))).WaitAsync(Timeout);

            Assert.All(answers, a => Assert.Equal(200, a.Status));
            Assert.Equal(n, backend.Requests.Count(r => r.Target.StartsWith("/second/", StringComparison.Ordinal)));
            Assert.Equal(n, lb.Server.LiveConnections);
        }
        finally
        {
            foreach (var c in clients) if (c is not null) await c.DisposeAsync();
        }
    }
}
