using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Proxy;
using FastLb.Tests.Common;
using FastLb.FunctionalTests.Http;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>A ProxyServer with one tcp listener "l" in front of one service, on loopback port 0, and its traffic controller (ticked by the test).</summary>
internal sealed class TcpHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private TcpHarness(FastLbConfig config, TrafficController controller, Router router, ProxyServer server)
    {
        Config = config;
        Controller = controller;
        Router = router;
        Server = server;
    }

    public FastLbConfig Config { get; }
    public TrafficController Controller { get; }
    public BackendStateRegistry Registry => Controller.Registry;
    public Router Router { get; }
    public ProxyServer Server { get; }
    public IPEndPoint EndPoint => Server.Listeners[0].EndPoint;

    /// <param name="relay">"splice" or "pipes" (<c>defaults: tcp_relay</c>); ignored when <paramref name="defaults"/> is given.</param>
    public static async Task<TcpHarness> StartAsync(
        ServiceConfig service, ListenerConfig? listener = null, DefaultsConfig? defaults = null, string relay = "splice")
    {
        defaults ??= new DefaultsConfig { TcpRelay = relay == "pipes" ? TcpRelayMode.Pipes : TcpRelayMode.Splice };
        var config = TestTables.Config([listener ?? TestTables.TcpListener("l", service.Name)], [service], defaults);
        var router = new Router();
        var controller = new TrafficController(router);
        controller.Load(config);
        var server = new ProxyServer(router, httpHandlerFactory: null, heartbeatInterval: TimeSpan.FromMilliseconds(100), loops: TestLoops.Create());
        controller.Connections = server;
        var errors = await server.ApplyAsync(config).WaitAsync(Timeout);
        Assert.Empty(errors);
        return new TcpHarness(config, controller, router, server);
    }

    /// <summary>The state of a backend of pool "main" of the harness's first service.</summary>
    public BackendState State(IPEndPoint backend) =>
        Registry.Find(Config.Services[0].Name, "main", TestTables.Address(backend).ToString())
        ?? throw new InvalidOperationException($"no state for {backend}");

    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(EndPoint).WaitAsync(Timeout);

    public ValueTask DisposeAsync() => new(Server.StopAsync(TimeSpan.Zero).WaitAsync(Timeout));

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test after <paramref name="timeout"/>.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Poll.UntilAsync(condition, what, timeout ?? Timeout);
}
