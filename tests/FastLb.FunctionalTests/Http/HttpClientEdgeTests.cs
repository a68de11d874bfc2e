using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Clients that idle before their first byte, speak HTTP/0.9, send an empty Host, or keep sending after an error.</summary>
public sealed class HttpClientEdgeTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private RawHttpBackend _backend = null!;
    private HttpLb _lb = null!;

    public async Task InitializeAsync()
    {
        _backend = RawHttpBackend.Start("edge-1");
        _lb = await HttpLb.StartAsync(OneServiceConfig.Yaml([("main", [_backend])], defaultsExtra: "  request_head_timeout: 500ms\n  keepalive_timeout: 60s"));
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task NewConnection_NoByteWithinRequestHeadTimeout_ClosedLongBeforeKeepAliveTimeout()
    {
        await using var client = await _lb.ConnectAsync();
        var clock = Stopwatch.StartNew();

        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Timeout);

        Assert.True(closed, "an idle new connection was still open after 5 s (request_head_timeout is 500ms)");
        Assert.Empty(extra);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task KeepAliveConnection_IdleAfterFirstRequest_KeptPastRequestHeadTimeout()
    {
        await using var client = await _lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/one").WaitAsync(Timeout)).Status);

        await Task.Delay(1200);

        Assert.Equal(200, (await client.GetAsync("/two").WaitAsync(Timeout)).Status);
    }

    [Theory]
    [InlineData("GET /\r\n")]
    [InlineData("GET /index.html\r\n")]
    public async Task Http09RequestLine_400AtOnceAndNothingReachesBackend(string request)
    {
        await using var client = await _lb.ConnectAsync();
        await client.SendAsync(request).WaitAsync(Timeout);

        var response = await client.ReadFinalResponseAsync().WaitAsync(Timeout);

        // 400, not the 408 of request_head_timeout: the request line itself was refused, without waiting for more.
        Assert.Equal(400, response.Status);
        Assert.Equal(0, _backend.ReceivedByteCount);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: \r\n\r\n")]
    [InlineData("GET /p HTTP/1.1\r\nHost:\r\n\r\n")]
    public async Task EmptyHostOnOriginForm_400AndNothingReachesBackend(string request)
    {
        await using var client = await _lb.ConnectAsync();
        await client.SendAsync(request).WaitAsync(Timeout);

        Assert.Equal(400, (await client.ReadFinalResponseAsync().WaitAsync(Timeout)).Status);
        Assert.Equal(0, _backend.ReceivedByteCount);
    }

    [Fact]
    public async Task BadHeaderWithBodyInFlight_ClientReadsThe400AndAGracefulClose()
    {
        // The client sends a rejected head, then the body it announced, after FastLb answered: FastLb keeps reading and
        // discarding, so the client's writes succeed and it reads the 400 and a FIN, never a reset.
        await using var client = await _lb.ConnectAsync();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: test\r\nBad Header: x\r\nContent-Length: 262144\r\n\r\n").WaitAsync(Timeout);
        await Task.Delay(200);
        var chunk = new byte[16 * 1024];
        for (var i = 0; i < 16; i++) await client.SendAsync(chunk).WaitAsync(Timeout);
        client.ShutdownSend();

        var response = await client.ReadFinalResponseAsync().WaitAsync(Timeout);
        Assert.Equal(400, response.Status);
        Assert.Empty(await client.ReadSomeAsync().WaitAsync(Timeout)); // FIN: a reset would throw here
        Assert.Equal(0, _backend.ReceivedByteCount);
    }
}
