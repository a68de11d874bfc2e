using System.Text;
using FastLb.Core.Metrics;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

public sealed class HttpProxyEdgeTests
{
    private static string Config(RawHttpBackend backend, string serviceExtra = "", string defaultsExtra = "", string drainTimeout = "5s") =>
        OneServiceConfig.Yaml([("main", [backend])], serviceExtra: serviceExtra, drainTimeout: drainTimeout, defaultsExtra: defaultsExtra);

    [Fact]
    public async Task Upgrade_101_BecomesTunnel_EchoBothWays_CountedOnBackend()
    {
        await using var backend = RawHttpBackend.Start("ws", async (_, c, ct) =>
        {
            await c.SendAsync("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", ct);
            await c.EchoUntilFinAsync(ct);
            return false;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend, drainTimeout: "0s"));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n");
        Assert.Equal(101, response.Status);
        Assert.Equal("websocket", response.Head["upgrade"]);
        Assert.Equal("websocket", Assert.Single(backend.Requests).Head["upgrade"]); // h2c is not offered upstream

        var state = lb.Controller.Registry.Find("web", "main", backend.EndPoint.ToString())!;
        Assert.Equal(1, state.Live);
        await client.SendAsync(Encoding.ASCII.GetBytes("ping-1"));
        var echoed = Encoding.ASCII.GetString(await client.ReadExactlyAsync(6));
        Assert.Equal("ping-1", echoed);

        // A drain whose deadline is already past: the runtime's next drain tick cuts the tunnel, both sides.
        lb.Controller.Drain("web", "main", backend.EndPoint.ToString());
        var (closed, _) = await client.WaitForCloseAsync(HttpLb.Timeout);
        Assert.True(closed);
        await Poll.UntilAsync(() => state.Live == 0, "tunnel released");
        Assert.Equal(1, state.Traffic.Total(TrafficField.DrainCuts));
    }

    [Fact]
    public async Task SilentBackend_Answers504_AfterResponseHeadTimeout()
    {
        await using var backend = RawHttpBackend.Start("slow", async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return false;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend, "response_head_timeout: 300ms"));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(504, response.Status);
        Assert.Equal(0, lb.Http.Pool.IdleCount);
    }

    [Fact]
    public async Task ReusedConnectionClosedBeforeAnswer_IdempotentGet_RetriedOnFreshConnection()
    {
        await using var backend = RawHttpBackend.Start("flaky", async (_, c, ct) =>
        {
            // Answers the first request of each connection, then drops the connection on the second one unanswered.
            if (c.Requests > 1) return false;
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend));
        await using var client = await lb.ConnectAsync();

        Assert.Equal(200, (await client.RequestAsync("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")).Status);
        var second = await client.RequestAsync("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(200, second.Status);
        Assert.Equal("ok", second.BodyText);
        Assert.Equal(2, backend.AcceptedConnections);
    }

    [Fact]
    public async Task ChunkedResponse_ToHttp10Client_IsDechunkedAndCloseDelimited()
    {
        await using var backend = RawHttpBackend.Start("chunky", async (_, c, ct) =>
        {
            await c.SendAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n", ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Null(response.Head["transfer-encoding"]);
        Assert.Null(response.Head["content-length"]);
        Assert.Equal("close", response.Head["connection"]);
        Assert.Equal("hello world", response.BodyText);
    }

    [Fact]
    public async Task ExpectContinue_100RelayedBeforeBody()
    {
        // The backend answers 100 Continue before it reads the body, then echoes the body.
        await using var backend = RawHttpBackend.Start("continue", async (r, c, ct) =>
        {
            await c.SendAsync($"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{r.BodyText}", ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        var interim = await client.ReadResponseAsync();
        Assert.Equal(100, interim.Status);
        await client.SendAsync(Encoding.ASCII.GetBytes("hello"));
        var final = await client.ReadResponseAsync();

        Assert.Equal(200, final.Status);
        Assert.Equal("hello", final.BodyText);
        Assert.True(Assert.Single(backend.Requests).Head.HasToken("expect", "100-continue"));
    }

    [Fact]
    public async Task InvalidUpstreamResponse_Answers502_AndDiscardsTheConnection()
    {
        await using var backend = RawHttpBackend.Start("bad", async (_, c, ct) =>
        {
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 5, 10\r\n\r\nhello", ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(502, response.Status);
        Assert.Equal(0, lb.Http.Pool.IdleCount);
    }

    [Fact]
    public async Task KeepAliveTimeout_IdleClientAfterResponse_ClosedQuietly()
    {
        await using var backend = RawHttpBackend.Start("ok"); // answers 200, body "ok"
        await using var lb = await HttpLb.StartAsync(Config(backend, defaultsExtra: "  keepalive_timeout: 300ms"));
        await using var client = await lb.ConnectAsync();

        Assert.Equal("ok", (await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).BodyText);

        // Idle past the keep-alive timeout: FIN with nothing more sent (no 408, the client sent no byte).
        var (closed, extra) = await client.WaitForCloseAsync(HttpLb.Timeout);
        Assert.True(closed);
        Assert.Empty(extra);
    }

    [Fact]
    public async Task BackendStallsMidBody_ClientCutAfterIdleTimeout_ConnectionNotPooled()
    {
        await using var backend = RawHttpBackend.Start("stall", async (_, c, ct) =>
        {
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", ct);
            await Task.Delay(Timeout.Infinite, ct);
            return false;
        });
        await using var lb = await HttpLb.StartAsync(Config(backend, "idle_timeout: 300ms"));
        await using var client = await lb.ConnectAsync();

        // The head and the first bytes go out; then the body makes no progress and the response is cut.
        var cut = await Assert.ThrowsAnyAsync<Exception>(() => client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));

        Assert.True(cut is EndOfStreamException or System.Net.Sockets.SocketException, cut.ToString());
        Assert.Equal(0, lb.Http.Pool.IdleCount);
    }
}
