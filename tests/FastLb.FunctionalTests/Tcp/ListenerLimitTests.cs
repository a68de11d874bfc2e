using FastLb.Core.Config;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>
/// A listener's max_connections with on_limit queue and close, on either transport; on io_uring also that no accept
/// stays armed at the limit (the connections past it wait in the kernel backlog, not in the process).
/// </summary>
public sealed class ListenerLimitTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;

    [Fact]
    public async Task QueueMode_AtMaxConnections_NextClientWaitsUnaccepted_ServedOnceOneEnds()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        var limited = TestTables.TcpListener("l", service.Name, maxConnections: 1, onLimit: OnLimit.Queue);
        await using var harness = await TcpHarness.StartAsync(service, limited);
        var listener = harness.Server.ActiveListener("l")!;
        var first = await harness.ConnectAsync();
        await first.SendAsync("a");
        Assert.Equal("a", await first.ReceiveStringAsync(1).WaitAsync(Timeout));

        await using var second = await harness.ConnectAsync(); // completes from the backlog
        await second.SendAsync("b");

        if (listener.Acceptors[0].AcceptsThroughRing)
        {
            await TcpHarness.WaitUntilAsync(() => listener.Acceptors.All(a => a.RingAcceptsArmed == 0), "no accept stays armed at the limit, on any loop");
        }
        var echo = second.ReceiveStringAsync(1);
        await Task.WhenAny(echo, Task.Delay(300)); // a short look for an answer that must not come
        Assert.False(echo.IsCompleted, "the second client is not served while the first holds the only slot");
        Assert.Equal(1, listener.Live);

        await first.DisposeAsync();

        Assert.Equal("b", await echo.WaitAsync(Timeout));
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 1, "only the second connection is open");
    }

    [Fact]
    public async Task CloseMode_AtMaxConnections_NextClientClosedAndCountedRefused_ThenServedOnceOneEnds()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        var limited = TestTables.TcpListener("l", service.Name, maxConnections: 1, onLimit: OnLimit.Close);
        await using var harness = await TcpHarness.StartAsync(service, limited);
        var first = await harness.ConnectAsync();
        await first.SendAsync("a");
        Assert.Equal("a", await first.ReceiveStringAsync(1).WaitAsync(Timeout));

        await using (var refused = await harness.ConnectAsync())
        {
            Assert.Empty(await refused.ReadToEndAsync().WaitAsync(Timeout));
        }
        // Counted right after the close the client saw.
        await TcpHarness.WaitUntilAsync(() => harness.Server.RefusedConnections == 1, "the closed connection is counted as refused");

        await first.DisposeAsync();
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the first connection ended");
        await using var third = await harness.ConnectAsync();
        await third.SendAsync("c");
        Assert.Equal("c", await third.ReceiveStringAsync(1).WaitAsync(Timeout));
    }
}
