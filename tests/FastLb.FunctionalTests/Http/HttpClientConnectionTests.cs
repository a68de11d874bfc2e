using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>An empty Content-Length body, read by the tests' raw client directly and through FastLb.</summary>
public sealed class HttpClientConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private RawHttpBackend _backend = null!;

    public Task InitializeAsync()
    {
        _backend = RawHttpBackend.Start("empty", async (request, connection, ct) =>
        {
            await connection.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ct);
            return true;
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task GetAsync_ContentLengthZero_ReturnsEmptyBodyAndKeepsAlive()
    {
        await using var client = await HttpClientConnection.ConnectAsync(_backend.EndPoint).WaitAsync(Timeout);

        var first = await client.GetAsync("/a").WaitAsync(Timeout);
        var second = await client.GetAsync("/b").WaitAsync(Timeout);

        Assert.Equal((200, "length", 0), (first.Status, first.Framing, first.Body.Length));
        Assert.Equal((200, "length", 0), (second.Status, second.Framing, second.Body.Length));
        Assert.Equal(1, _backend.AcceptedConnections);
    }

    [Fact]
    public async Task ContentLengthZeroResponse_ThroughFastLb_ForwardedWithoutWaitingForABody()
    {
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(_backend));
        await using var client = await lb.ConnectAsync();

        var first = await client.GetAsync("/a").WaitAsync(Timeout);
        var second = await client.GetAsync("/b").WaitAsync(Timeout);

        Assert.Equal((200, "0"), (first.Status, first.Head["content-length"]));
        Assert.Empty(first.Body);
        Assert.Equal(200, second.Status);
        Assert.Empty(second.Body);
    }
}
