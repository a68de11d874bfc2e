using System.Text;
using FastLb.FunctionalTests.Host;
using FastLb.Host.Cli;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

public sealed class HttpProxyTests
{
    private static string Config(string backends, string routes = "      - service: web\n", string defaults = "") => $"""
        defaults:
          connect_timeout: 1s
        {defaults}
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: http
            routes:
        {routes}
        services:
          web:
            active: main
            pools:
              main:
        {backends}
        """;

    private static string Backend(RawHttpBackend b) => $"          - {b.EndPoint}";

    [Fact]
    public async Task KeepAlive_TwoGetsOnOneClientConnection_ReuseOneUpstreamConnection()
    {
        await using var backend = RawHttpBackend.Start("b1");
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend)));
        await using var client = await lb.ConnectAsync();

        var first = await client.RequestAsync("GET /one HTTP/1.1\r\nHost: example.test\r\n\r\n");
        var second = await client.RequestAsync("GET /two HTTP/1.1\r\nHost: example.test\r\n\r\n");

        Assert.Equal(200, first.Status);
        Assert.Equal("b1", first.BodyText);
        Assert.Equal(200, second.Status);
        Assert.Equal("b1", second.Head["x-backend"]);
        Assert.Equal(1, backend.AcceptedConnections);
        // The proxy pools the upstream connection right after sending the response, so the client can be first.
        await Poll.UntilAsync(() => lb.Http.Pool.IdleCount == 1, "the upstream connection back in the pool");
    }

    [Fact]
    public async Task Post_ContentLengthBody_ReachesBackendIntact()
    {
        await using var backend = RawHttpBackend.StartEchoBody();
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend)));
        await using var client = await lb.ConnectAsync();
        var body = new byte[200_000];
        new Random(7).NextBytes(body);

        var response = await client.RequestAsync($"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n", body);

        Assert.Equal(200, response.Status);
        Assert.Equal("length", response.Head["x-framing"]);
        Assert.Equal(body, response.Body);
        // The connection stays usable after a body.
        Assert.Equal(200, (await client.RequestAsync("POST /again HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")).Status);
    }

    [Fact]
    public async Task Post_ChunkedBody_ReachesBackendIntact()
    {
        await using var backend = RawHttpBackend.StartEchoBody();
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend)));
        await using var client = await lb.ConnectAsync();
        var expected = new StringBuilder();
        var chunked = new StringBuilder();
        for (var i = 0; i < 50; i++)
        {
            var piece = new string((char)('a' + i % 26), 1 + i * 37);
            expected.Append(piece);
            chunked.Append($"{piece.Length:x}\r\n{piece}\r\n");
        }
        chunked.Append("0\r\n\r\n");

        var response = await client.RequestAsync("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked);

        Assert.Equal(200, response.Status);
        Assert.Equal("chunked", response.Head["x-framing"]);
        Assert.Equal(expected.ToString(), response.BodyText);
    }

    [Fact]
    public async Task NoRoute_Answers404_AndKeepsTheConnection()
    {
        await using var backend = RawHttpBackend.Start("api");
        var routes = "      - match: { host: api.example.com }\n        service: web\n";
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend), routes));
        await using var client = await lb.ConnectAsync();

        var missing = await client.RequestAsync("GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n");
        var matched = await client.RequestAsync("GET / HTTP/1.1\r\nHost: API.example.com:8080\r\n\r\n");

        Assert.Equal(404, missing.Status);
        Assert.NotEmpty(missing.Body);
        Assert.Equal(200, matched.Status);
        Assert.Equal("api", matched.BodyText);
    }

    [Fact]
    public async Task NoBackendWithWeight_Answers503()
    {
        await using var backend = RawHttpBackend.Start("b1");
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend)));
        lb.Controller.Drain("web", "main", backend.EndPoint.ToString());

        var response = await lb.SendOnceAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(503, response.Status);
        Assert.Equal(0, backend.AcceptedConnections);
    }

    [Fact]
    public async Task RefusedBackend_Answers502_AndRecordsTheFailure()
    {
        var closed = LoopbackBackend.ClosedPort();
        await using var lb = await HttpLb.StartAsync(Config($"          - {closed}"));

        var response = await lb.SendOnceAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(502, response.Status);
        var state = lb.Controller.Registry.Find("web", "main", closed.ToString());
        Assert.True(state!.Failures >= 1);
        Assert.Equal(0, state.Live);
    }

    [Fact]
    public async Task RefusedBackend_NextPickServes()
    {
        var closed = LoopbackBackend.ClosedPort();
        await using var backend = RawHttpBackend.Start("alive");
        await using var lb = await HttpLb.StartAsync(Config($"          - {closed}\n{Backend(backend)}"));
        await using var client = await lb.ConnectAsync();

        for (var i = 0; i < 4; i++)
        {
            var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.Equal(200, response.Status);
            Assert.Equal("alive", response.BodyText);
        }
    }

    [Fact]
    public async Task Demo_HeaderRoute_PinsGreen_DefaultGoesBlue()
    {
        await using var backends = new DemoBackends();
        await using var lb = await HttpLb.StartAsync(DemoCommand.DemoConfigText(0, backends.All));
        await using var client = await lb.ConnectAsync();

        var blue = new HashSet<string>();
        for (var i = 0; i < 4; i++)
        {
            var plain = await client.RequestAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
            blue.Add(plain.Head["x-backend"]!);
            var green = await client.RequestAsync("GET / HTTP/1.1\r\nHost: localhost\r\nx-fastlb-pool: green\r\n\r\n");
            Assert.StartsWith("green-", green.Head["x-backend"]);
            Assert.StartsWith("green-", green.BodyText);
        }
        Assert.Equal(["blue-1", "blue-2"], blue.Order());
    }

    [Fact]
    public async Task Swap_NextRequestOnOpenConnection_GoesToNewPool_AndOldIdleUpstreamsClose()
    {
        await using var backends = new DemoBackends();
        await using var lb = await HttpLb.StartAsync(DemoCommand.DemoConfigText(0, backends.All));
        await using var client = await lb.ConnectAsync();

        Assert.StartsWith("blue-", (await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).Head["x-backend"]);
        lb.Controller.Swap("web", "green");
        Assert.StartsWith("green-", (await client.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).Head["x-backend"]);

        // The idle blue connection is closed by the pool's sweep; green's stays.
        await Poll.UntilAsync(() => lb.Http.Pool.IdleCount == 1, "idle blue upstream closed");
    }

    [Fact]
    public async Task Http10Client_ConnectionCloseAfterResponse()
    {
        await using var backend = RawHttpBackend.Start("b1");
        await using var lb = await HttpLb.StartAsync(Config(Backend(backend)));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("GET / HTTP/1.0\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal("close", response.Head["connection"]);
        var (closed, extra) = await client.WaitForCloseAsync(HttpLb.Timeout);
        Assert.True(closed);
        Assert.Empty(extra);
    }
}
