using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

public class ProxyServerTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;

    [Fact]
    public async Task ApplyAsync_ListenerReplaced_OldRefusesNewButOpenConnectionKeepsWorking()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        var defaults = new DefaultsConfig { DrainTimeout = TimeSpan.FromSeconds(20) };
        var first = TestTables.Config([TestTables.TcpListener("a", "echo")], [service], defaults);
        var second = TestTables.Config([TestTables.TcpListener("b", "echo")], [service], defaults);
        var server = new ProxyServer(TestTables.Router(first, new BackendStateRegistry()), null, loops: TestLoops.Create());
        try
        {
            Assert.Empty(await server.ApplyAsync(first).WaitAsync(Timeout));
            var a = Assert.Single(server.Listeners).EndPoint;
            await using var old = await TestClient.ConnectAsync(a).WaitAsync(Timeout);
            await EchoAsync(old, "before");

            Assert.Empty(await server.ApplyAsync(second).WaitAsync(Timeout));

            var b = Assert.Single(server.Listeners);
            Assert.Equal("b", b.Name);
            var refused = await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(a).WaitAsync(Timeout));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            await EchoAsync(old, "after"); // the removed listener's connection drains, it is not cut
            await using var fresh = await TestClient.ConnectAsync(b.EndPoint).WaitAsync(Timeout);
            await EchoAsync(fresh, "new");
            Assert.Equal(2, server.LiveConnections);

            // Applying the same listener again keeps its socket (same port) and its connections.
            Assert.Empty(await server.ApplyAsync(second).WaitAsync(Timeout));
            Assert.Equal(b.EndPoint, Assert.Single(server.Listeners).EndPoint);
            await EchoAsync(fresh, "kept");
        }
        finally
        {
            await server.StopAsync(TimeSpan.Zero).WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task ApplyAsync_RemovedListener_ConnectionsAbortedAfterDrainTimeout()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        var defaults = new DefaultsConfig { DrainTimeout = TimeSpan.FromMilliseconds(300) };
        var first = TestTables.Config([TestTables.TcpListener("a", "echo")], [service], defaults);
        var empty = TestTables.Config([], [service], defaults);
        var server = new ProxyServer(TestTables.Router(first, new BackendStateRegistry()), null, loops: TestLoops.Create());
        try
        {
            Assert.Empty(await server.ApplyAsync(first).WaitAsync(Timeout));
            await using var client = await TestClient.ConnectAsync(server.Listeners[0].EndPoint).WaitAsync(Timeout);
            await EchoAsync(client, "hi");
            var sw = Stopwatch.StartNew();

            Assert.Empty(await server.ApplyAsync(empty).WaitAsync(Timeout));
            Assert.Empty(server.Listeners);

            await Assert.ThrowsAsync<SocketException>(() => client.ReadToEndAsync().WaitAsync(Timeout));
            Assert.True(sw.ElapsedMilliseconds >= 250, $"cut after {sw.ElapsedMilliseconds} ms, before the drain timeout");
            await TcpHarness.WaitUntilAsync(() => server.LiveConnections == 0, "the connection ended");
        }
        finally
        {
            await server.StopAsync(TimeSpan.Zero).WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task ApplyAsync_PortInUse_ReturnsBindError()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        var taken = (IPEndPoint)squatter.LocalEndPoint!;
        var service = TestTables.Service("svc", [LoopbackBackend.ClosedPort()]);
        var config = TestTables.Config([TestTables.TcpListener("web", "svc", taken)], [service]);
        await using var server = new ProxyServer(TestTables.Router(config, new BackendStateRegistry()), null, loops: TestLoops.Create());

        var errors = await server.ApplyAsync(config).WaitAsync(Timeout);

        Assert.Equal([$"listener 'web': cannot bind 127.0.0.1:{taken.Port}: address already in use"], errors);
        Assert.Empty(server.Listeners);
    }

    [Fact]
    public async Task ApplyAsync_MovedListenerCannotBind_KeepsServingOnOldAddress()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        var taken = (IPEndPoint)squatter.LocalEndPoint!;
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        var first = TestTables.Config([TestTables.TcpListener("web", "echo")], [service]);
        var moved = TestTables.Config([TestTables.TcpListener("web", "echo", taken)], [service]);
        await using var server = new ProxyServer(TestTables.Router(first, new BackendStateRegistry()), null, loops: TestLoops.Create());
        Assert.Empty(await server.ApplyAsync(first).WaitAsync(Timeout));
        var original = server.Listeners[0].EndPoint;

        var errors = await server.ApplyAsync(moved).WaitAsync(Timeout);

        Assert.Equal([$"listener 'web': cannot bind 127.0.0.1:{taken.Port}: address already in use; still serving on {original}"], errors);
        Assert.Equal(original, Assert.Single(server.Listeners).EndPoint);
        await using var client = await TestClient.ConnectAsync(original).WaitAsync(Timeout);
        await EchoAsync(client, "still here");
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task StopAsync_Straggler_AbortedAfterDrainTimeout(string relay)
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("echo", [backend.EndPoint]), relay: relay);
        var endPoint = harness.EndPoint;
        await using var client = await harness.ConnectAsync();
        await EchoAsync(client, "hi");
        var sw = Stopwatch.StartNew();

        await harness.Server.StopAsync(TimeSpan.FromMilliseconds(300)).WaitAsync(Timeout);

        Assert.True(sw.ElapsedMilliseconds >= 250, $"stopped after {sw.ElapsedMilliseconds} ms, before the drain timeout");
        Assert.Equal(0, harness.Server.LiveConnections);
        Assert.Empty(harness.Server.Listeners);
        await Assert.ThrowsAsync<SocketException>(() => client.ReadToEndAsync().WaitAsync(Timeout));
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(endPoint).WaitAsync(Timeout));
        Assert.True(harness.Server.StopAsync(TimeSpan.FromSeconds(30)).IsCompleted); // idempotent
    }

    [Fact]
    public async Task StopAsync_NoConnections_ReturnsWithoutWaitingForDrainTimeout()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("echo", [backend.EndPoint]));
        await using (var client = await harness.ConnectAsync())
        {
            await EchoAsync(client, "hi");
            client.ShutdownSend();
            Assert.Empty(await client.ReadToEndAsync().WaitAsync(Timeout));
        }
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");

        await harness.Server.StopAsync(TimeSpan.FromSeconds(30)).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task HttpListener_WithoutHttpProxy_RefusedWithReasonTcpListenerStillBound()
    {
        // A server built without the L7 proxy relays tcp only; an http listener is refused, never relayed as bytes.
        var service = TestTables.Service("web", [LoopbackBackend.ClosedPort()]);
        var config = TestTables.Config([TestTables.HttpListener("web", "web"), TestTables.TcpListener("raw", "web")], [service]);
        await using var server = new ProxyServer(TestTables.Router(config, new BackendStateRegistry()), null, loops: TestLoops.Create());

        var errors = await server.ApplyAsync(config).WaitAsync(Timeout);

        var error = Assert.Single(errors);
        Assert.Equal("listener 'web': an http listener needs the HTTP proxy; this server relays tcp only", error);
        Assert.Equal("raw", Assert.Single(server.Listeners).Name);
    }

    [Fact]
    public async Task HttpListener_WithHandler_DispatchesAndCancelsOnStop()
    {
        var service = TestTables.Service("web", [LoopbackBackend.ClosedPort()]);
        var config = TestTables.Config([TestTables.HttpListener("web", "web")], [service]);
        var handler = new GreetingHandler();
        var server = new ProxyServer(TestTables.Router(config, new BackendStateRegistry()), _ => handler, loops: TestLoops.Create());
        Assert.Empty(await server.ApplyAsync(config).WaitAsync(Timeout));
        await using var client = await TestClient.ConnectAsync(server.Listeners[0].EndPoint).WaitAsync(Timeout);
        Assert.Equal("hi web", await client.ReceiveStringAsync(6).WaitAsync(Timeout));
        Assert.Equal(1, server.LiveConnections);

        // The handler returns as soon as its token is canceled, long before the drain timeout.
        await server.StopAsync(TimeSpan.FromSeconds(30)).WaitAsync(Timeout);

        Assert.Empty(await client.ReadToEndAsync().WaitAsync(Timeout));
        Assert.Equal(0, server.LiveConnections);
    }

    private sealed class GreetingHandler : IConnectionHandler
    {
        public IProxyConnection Create(EpollSocket client, ProxyListener listener, ListenerConfig config) =>
            new GreetingConnection(client, listener, config.Name);
    }

    /// <summary>Greets, then holds the connection until the listener stops, as a handler's connection must.</summary>
    private sealed class GreetingConnection(EpollSocket client, ProxyListener listener, string name) : IProxyConnection
    {
        private DrainLink _drainLink;
        private int _ended;

        public ref DrainLink DrainLink => ref _drainLink;

        public void Execute() => Assert.Equal(6, client.Send(System.Text.Encoding.ASCII.GetBytes("hi " + name)));

        public void RequestClose() => End(graceful: true);

        public void Abort() => End(graceful: false);

        public void OnHeartbeat(long nowMs)
        {
        }

        private void End(bool graceful)
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0) return;
            if (graceful) client.ShutdownBoth();
            else client.Abort();
            client.Dispose();
            listener.Unregister(this);
        }
    }

    private static async Task EchoAsync(TestClient client, string text)
    {
        await client.SendAsync(text).WaitAsync(Timeout);
        Assert.Equal(text, await client.ReceiveStringAsync(text.Length).WaitAsync(Timeout));
    }
}
