using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Proxy;
using Xunit;
using L7Proxy = FastLb.Proxy.Http.HttpProxy;

namespace FastLb.FunctionalTests.Http;

/// <summary>A ProxyServer with the L7 handler, configured from YAML text, its first listener on 127.0.0.1:0.</summary>
internal sealed class L7Harness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private L7Harness(TrafficController controller, ProxyServer server, L7Proxy http)
    {
        Controller = controller;
        Server = server;
        Http = http;
    }

    public TrafficController Controller { get; }
    public ProxyServer Server { get; }
    public L7Proxy Http { get; }
    public IPEndPoint EndPoint => Server.Listeners[0].EndPoint;

    public static async Task<L7Harness> StartAsync(string yaml)
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        var config = ConfigLoader.Parse(yaml, "<test>", Directory.GetCurrentDirectory());
        var router = new Router();
        var controller = new TrafficController(router);
        controller.Load(config);
        L7Proxy? http = null;
        var server = new ProxyServer(router, _ => http!, heartbeatInterval: TimeSpan.FromMilliseconds(100), loops: TestLoops.Create());
        controller.Connections = server;
        http = new L7Proxy(router, server.Transport);
        var errors = await server.ApplyAsync(config).WaitAsync(Timeout);
        Assert.Empty(errors);
        return new L7Harness(controller, server, http);
    }

    public Task<RawHttpClient> ConnectAsync() => RawHttpClient.ConnectAsync(EndPoint).WaitAsync(Timeout);

    /// <summary>One request on a fresh connection.</summary>
    public async Task<RawHttpResponse> SendOnceAsync(string request)
    {
        await using var client = await ConnectAsync();
        return await client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(TimeSpan.Zero).WaitAsync(Timeout);
        Http.Dispose();
    }
}
