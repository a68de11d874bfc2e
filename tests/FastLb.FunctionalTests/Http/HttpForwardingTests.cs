using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>What FastLb changes on the way through: target authority, hop-by-hop and forwarding headers, interim and bodiless responses, bad upstream framing.</summary>
public sealed class HttpForwardingTests(ForwardingFixture fixture) : IClassFixture<ForwardingFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private RawHttpBackend Backend => fixture.Backend;

    public static TheoryData<string> BadResponsePaths => [.. ForwardingFixture.BadResponses.Keys];

    public Task InitializeAsync()
    {
        Backend.Reset();
        fixture.Authority.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task AbsoluteForm_HostDiffers_RoutedByTargetAuthorityAndHostRewritten()
    {
        // Row 19.
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync("GET http://routed.example.com/abs?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n").WaitAsync(Timeout);

        Assert.True(response.Status == 200, response.ToString());
        Assert.Equal("auth-1", response.Backend);
        var forwarded = Assert.Single(fixture.Authority.Requests);
        Assert.Equal(["routed.example.com"], forwarded.Head.All("host"));
        Assert.EndsWith("/abs?q=1", forwarded.Target);
    }

    [Fact]
    public async Task H2cUpgrade_Requested_DroppedAndAnsweredAsHttp11()
    {
        // Row 23, first half.
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync("GET /echo HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                                 + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").WaitAsync(Timeout);

        Assert.True(response.Status == 200, response.ToString());
        var forwarded = Assert.Single(Backend.Requests);
        Assert.False(forwarded.Head.Has("upgrade"), $"Upgrade forwarded:\n{forwarded}");
        Assert.False(forwarded.Head.Has("http2-settings"), $"HTTP2-Settings forwarded:\n{forwarded}");
        Assert.False(forwarded.Head.HasToken("connection", "upgrade"), $"Connection: upgrade forwarded:\n{forwarded}");
        Assert.Equal(200, (await client.GetAsync("/echo").WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task ConnectionNamesForwardedFor_ClientValuesDroppedThenFastLbsOwnAdded()
    {
        // Row 23, second half: the spoofed X-Forwarded-For is named in Connection, so only FastLb's survives.
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync("GET /echo HTTP/1.1\r\nHost: Test.Example:8080\r\nConnection: close, X-Forwarded-For\r\n"
                                                 + "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n")
            .WaitAsync(Timeout);

        Assert.True(response.Status == 200, response.ToString());
        var forwarded = Assert.Single(Backend.Requests);
        Assert.Equal("127.0.0.1", string.Join(", ", forwarded.Head.All("x-forwarded-for")));
        Assert.Equal(["http"], forwarded.Head.All("x-forwarded-proto"));
        Assert.Equal(["Test.Example:8080"], forwarded.Head.All("x-forwarded-host"));
        Assert.Equal(["Test.Example:8080"], forwarded.Head.All("host"));
        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(3)).WaitAsync(Timeout);
        Assert.True(closed && extra.Length == 0, "client asked for Connection: close; FastLb kept the connection open");
    }

    [Fact]
    public async Task ForwardedFor_FromUntrustedClient_ReplacedAndForwardedStripped()
    {
        // No trusted_proxies: what a client claims about its address never reaches the backend.
        await using var client = await fixture.Lb.ConnectAsync();

        await client.RequestAsync("GET /echo HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 10.1.2.3\r\nForwarded: for=10.1.2.3\r\n"
                                  + "X-Real-IP: 10.1.2.3\r\n\r\n").WaitAsync(Timeout);

        var forwarded = Assert.Single(Backend.Requests);
        Assert.Equal("127.0.0.1", string.Join(", ", forwarded.Head.All("x-forwarded-for")));
        Assert.False(forwarded.Head.Has("forwarded"), forwarded.Head.ToString());
        Assert.False(forwarded.Head.Has("x-real-ip"), forwarded.Head.ToString());
    }

    [Fact]
    public async Task HopByHopRequestHeaders_NotForwardedOthersKept()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync("GET /echo HTTP/1.1\r\nHost: test\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"
                                                 + "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip, trailers\r\n"
                                                 + "Trailer: X-Checksum\r\nUpgrade: websocket\r\nX-Kept: yes\r\n\r\n").WaitAsync(Timeout);

        Assert.True(response.Status == 200, response.ToString());
        var head = Assert.Single(Backend.Requests).Head;
        foreach (var name in new[] { "x-hop", "keep-alive", "proxy-connection", "trailer", "upgrade" })
            Assert.False(head.Has(name), $"{name} forwarded:\n{head}");
        Assert.True(head["te"] is null or "trailers", $"TE forwarded as-is:\n{head}");
        Assert.False(head.HasToken("connection", "x-hop"), $"Connection forwarded as-is:\n{head}");
        Assert.Equal("yes", head["x-kept"]);
        Assert.Equal(200, (await client.GetAsync("/echo").WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task HopByHopResponseHeaders_NotForwardedOthersKept()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.GetAsync("/hop").WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.BodyText);
        Assert.Equal("yes", response.Head["x-kept"]);
        Assert.False(response.Head.Has("x-secret"), $"header named in Connection forwarded:\n{response.Head}");
        Assert.False(response.Head.Has("proxy-connection"), response.Head.Raw);
        Assert.False(response.Head.Has("upgrade"), response.Head.Raw);
        Assert.DoesNotContain("timeout=99", response.Head.Raw);
        Assert.Equal(200, (await client.GetAsync("/echo").WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task InterimResponse_103_PassesThroughBeforeFinal()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.GetAsync("/early-hints").WaitAsync(Timeout);

        var interim = Assert.Single(response.Interim);
        Assert.Equal(103, interim.Status);
        Assert.Equal("</style.css>; rel=preload", interim.Head["link"]);
        Assert.Equal(200, response.Status);
        Assert.Equal("final", response.BodyText);
        Assert.Equal(200, (await client.GetAsync("/echo").WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task Head_ResponseWithContentLength_NoBodyAndNextResponseIntact()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var head = await client.RequestAsync("HEAD /head HTTP/1.1\r\nHost: test\r\n\r\n", toHead: true).WaitAsync(Timeout);
        var next = await client.GetAsync("/after-head").WaitAsync(Timeout);

        Assert.Equal(200, head.Status);
        Assert.Equal("1000", head.Head["content-length"]);
        Assert.Equal(200, next.Status);
        Assert.Equal("GET /after-head", next.BodyText);
    }

    [Theory]
    [InlineData("/204", 204)]
    [InlineData("/304", 304)]
    public async Task BodilessStatus_NoBodyAndNextResponseIntact(string path, int status)
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.GetAsync(path).WaitAsync(Timeout);
        var next = await client.GetAsync("/after").WaitAsync(Timeout);

        Assert.Equal(status, response.Status);
        Assert.False(response.Head.Has("transfer-encoding"), $"{status} got a Transfer-Encoding:\n{response.Head}");
        Assert.Equal(200, next.Status);
        Assert.Equal("GET /after", next.BodyText);
    }

    [Fact]
    public async Task ResponseWithoutLength_DelimitedByCloseBodyComplete()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.GetAsync("/close-delimited").WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal(ForwardingFixture.CloseDelimitedBody.Length, response.Body.Length);
        Assert.Equal(ForwardingFixture.CloseDelimitedBody, response.BodyText);
        // FastLb may relay it close-delimited (then the client connection ends) or re-frame it as chunked and keep alive.
        if (response.Framing != "close") Assert.Equal(200, (await client.GetAsync("/echo").WaitAsync(Timeout)).Status);
    }

    [Theory]
    [MemberData(nameof(BadResponsePaths))]
    public async Task InvalidUpstreamFraming_502AndUpstreamConnectionNeverReused(string path)
    {
        // Row 24, first half.
        await using var client = await fixture.Lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/warm").WaitAsync(Timeout)).Status);

        var response = await client.GetAsync(path).WaitAsync(Timeout);

        Assert.True(response.Status == 502, $"{path}: expected 502, got:\n{response}");
        Assert.Null(response.Backend);
        var badConnection = Backend.Requests.Single(r => r.Target == path).Connection;
        for (var i = 0; i < 3; i++)
        {
            var next = await client.GetAsync($"/next-{i}").WaitAsync(Timeout);
            Assert.True(next.Status == 200, $"after a 502 the client connection should stay usable:\n{next}");
        }
        var reused = Backend.Requests.Where(r => r.Target.StartsWith("/next-", StringComparison.Ordinal) && r.Connection == badConnection).ToList();
        Assert.True(reused.Count == 0, $"{path}: the upstream connection that sent invalid framing carried {reused.Count} later request(s)");
    }

    [Fact]
    public async Task UpstreamContentLengthAndChunked_FramedByChunkedLengthDroppedConnectionNotReused()
    {
        // Row 24, second half.
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.GetAsync("/cl-and-te").WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal("hello", response.BodyText);
        Assert.False(response.Head.Has("content-length") && response.Framing == "chunked",
            $"both Content-Length and chunked sent to the client:\n{response.Head}");
        Assert.NotEqual("100", response.Head["content-length"]);
        var conflicted = Backend.Requests.Single(r => r.Target == "/cl-and-te").Connection;
        for (var i = 0; i < 3; i++) Assert.Equal(200, (await client.GetAsync($"/next-{i}").WaitAsync(Timeout)).Status);
        Assert.DoesNotContain(Backend.Requests, r => r.Target.StartsWith("/next-", StringComparison.Ordinal) && r.Connection == conflicted);
    }
}
