using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Proxy;

namespace FastLb.Benchmarks;

/// <summary>One short TCP connection (connect, 1-byte echo, close) through a tcp listener, per relay mode; Direct is the same without the proxy.</summary>
/// <remarks>Allocations count every thread: client, proxy and the echo backend. Subtract Direct for the proxy's share.</remarks>
[MemoryDiagnoser]
public class TcpConnectionBenchmark
{
    private readonly byte[] _one = [42];
    private Socket _backend = null!;
    private ProxyServer _server = null!;
    private IPEndPoint _backendEndPoint = null!;
    private IPEndPoint _proxyEndPoint = null!;

    [Params("splice", "pipes")]
    public string Relay { get; set; } = "splice";

    [GlobalSetup]
    public void Setup()
    {
        _backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _backend.Listen(1024);
        _backendEndPoint = (IPEndPoint)_backend.LocalEndPoint!;
        _ = EchoLoopAsync(_backend);

        var yaml = $"""
            defaults: {'{'} tcp_relay: {Relay} {'}'}
            listeners: [ {'{'} name: l, bind: "127.0.0.1:0", protocol: tcp, service: echo {'}'} ]
            services:
              echo: {'{'} pools: {'{'} main: [ {_backendEndPoint} ] {'}'} {'}'}
            """;
        var config = ConfigLoader.Parse(yaml, "bench.yaml");
        var router = new Router();
        router.Publish(RoutingTableBuilder.Build(config, 1, new Dictionary<string, ServiceTraffic>(),
            new Dictionary<BackendKey, BackendOverride>(), new BackendStateRegistry()));
        _server = new ProxyServer(router);
        _server.ApplyAsync(config).GetAwaiter().GetResult();
        _proxyEndPoint = _server.Listeners[0].EndPoint;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _server.StopAsync(TimeSpan.Zero).GetAwaiter().GetResult();
        _backend.Dispose();
    }

    [Benchmark]
    public Task Proxied() => RoundTripAsync(_proxyEndPoint);

    [Benchmark(Baseline = true)]
    public Task Direct() => RoundTripAsync(_backendEndPoint);

    private async Task RoundTripAsync(IPEndPoint endPoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint);
        await socket.SendAsync(_one, SocketFlags.None);
        var buffer = new byte[1];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0) { } // until the backend's FIN
    }

    private static async Task EchoLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket s;
            try
            {
                s = await listener.AcceptAsync();
            }
            catch (Exception)
            {
                return;
            }
            _ = EchoOnceAsync(s);
        }
    }

    private static async Task EchoOnceAsync(Socket s)
    {
        using (s)
        {
            var buffer = new byte[1];
            if (await s.ReceiveAsync(buffer, SocketFlags.None) > 0) await s.SendAsync(buffer, SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
            while (await s.ReceiveAsync(buffer, SocketFlags.None) > 0) { }
        }
    }
}
