using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>
/// The real fastlb binary under `prlimit --nofile=256`, flooded past what its descriptors allow: it must never die
/// (the .NET runtime aborts with "Out of memory." when it cannot get a descriptor for a new thread), must refuse or
/// queue what it cannot serve, and must serve normally once the flood is over.
/// </summary>
public class DescriptorExhaustionTests : IAsyncLifetime
{
    private const int DescriptorLimit = 256;
    private const int Clients = 400;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();
    private readonly HeldHttpBackend _backend = new();

    private string ConfigPath => _dir.File("fastlb.yaml");
    private string Socket => _dir.File("fastlb.sock");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private const string Route = "{ service: web }";

    private string Config(string top = "", string listener = "", string extraListener = "") => $"""
        {top}
        admin:
          control_socket: {Socket}
        defaults:
          connect_timeout: 2s
          request_head_timeout: 20s
          response_head_timeout: 20s
        listeners:
          - name: web
            bind: 127.0.0.1:0
            routes: [ {Route} ]
            {listener}
        {extraListener}
        services:
          web:
            active: blue
            pools:
              blue:
                - {_backend.EndPoint}
        """;

    private async Task<FastLbProcess> StartAsync(string config)
    {
        await File.WriteAllTextAsync(ConfigPath, config);
        return await FastLbProcess.RunAsync(_dir.Path, ConfigPath, Timeout, descriptorLimit: DescriptorLimit);
    }

    private async Task<JsonElement> StatusAsync()
    {
        var reply = await ControlClient.SendAsync(Socket, "status", Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    private async Task<IPEndPoint> ListenerAsync(string name = "web")
    {
        foreach (var l in (await StatusAsync()).GetProperty("listeners").EnumerateArray())
        {
            if (l.GetProperty("name").GetString() == name) return IPEndPoint.Parse(l.GetProperty("bind").GetString()!);
        }
        throw new Xunit.Sdk.XunitException($"no listener '{name}' in status");
    }

    [ToolFact("prlimit", "util-linux")]
    public async Task Prlimit256_400ClientsEachSendingARequest_AllServedThen20NormalRequests_Repeated20Times()
    {
        await using var p = await StartAsync(Config());
        Assert.Contains($"descriptors: limit {DescriptorLimit}", p.Log, StringComparison.Ordinal);
        var web = await ListenerAsync();
        for (var round = 0; round < 20; round++)
        {
            // on_limit: queue (the default): past max_connections clients wait in the backlog, then get served.
            var statuses = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => GetAsync(web)));
            Assert.False(p.HasExited, $"round {round}: fastlb died:\n{p.Log}");
            Assert.All(statuses, s => Assert.Equal(200, s));
            await AssertServesNormallyAsync(p, web, $"round {round}");
        }
        Assert.DoesNotContain("Out of memory", p.Log, StringComparison.Ordinal);
    }

    [ToolFact("prlimit", "util-linux")]
    public async Task OnLimitClose_PastMaxConnections_ClosedAtOnceAndCountedInStatus_ThenServes()
    {
        await using var p = await StartAsync(Config(top: "max_connections: 20\non_limit: close"));
        var web = await ListenerAsync();
        _backend.Hold();
        var held = Enumerable.Range(0, Clients).Select(_ => GetAsync(web)).ToList();
        await Poll.UntilAsync(() => _backend.Waiting >= 20, "20 requests held at the backend", Timeout);
        // Everything past the 20 held ones was closed at once, without an answer (0), while those 20 still wait.
        await Poll.UntilAsync(() => held.Count(t => t.IsCompleted) >= Clients - 20, "the connections past the limit closed", Timeout);
        Assert.All(held.Where(t => t.IsCompleted), t => Assert.Equal(0, t.Result));

        var status = await StatusAsync();
        var connections = status.GetProperty("connections");
        Assert.Equal(20, connections.GetProperty("limit").GetInt32());
        Assert.Equal(20, connections.GetProperty("current").GetInt32());
        Assert.True(connections.GetProperty("refused").GetInt64() >= Clients - 20, status.ToString());

        _backend.Release();
        Assert.All(await Task.WhenAll(held).WaitAsync(Timeout), s => Assert.True(s is 0 or 200));
        Assert.Equal(20, held.Count(t => t.Result == 200));
        await AssertServesNormallyAsync(p, web, "after the flood");
        Assert.Contains("at a connection limit", p.Log, StringComparison.Ordinal);
    }

    [ToolFact("prlimit", "util-linux")]
    public async Task UpstreamConnectsOutOfDescriptors_Answered503NotCountedAgainstBackend_ThenServes()
    {
        // max_connections past what the limit allows: the descriptor budget, not max_connections, runs out, and the
        // requests that find no descriptor for an upstream connection get 503.
        await using var p = await StartAsync(Config(top: "max_connections: 5000"));
        Assert.Contains("more than the", p.Log, StringComparison.Ordinal);
        var web = await ListenerAsync();
        _backend.Hold();
        var held = Enumerable.Range(0, Clients).Select(_ => GetAsync(web)).ToList();
        await Poll.UntilAsync(() => held.Any(t => t.IsCompleted && t.Result == 503), "a 503 for a request without an upstream descriptor", Timeout);
        Assert.False(p.HasExited, p.Log);
        _backend.Release();
        var statuses = await Task.WhenAll(held).WaitAsync(Timeout);
        Assert.All(statuses, s => Assert.True(s is 200 or 503 or 0, $"status {s}"));
        await AssertServesNormallyAsync(p, web, "after the flood");
        Assert.Contains("upstream connect: out of descriptors", p.Log, StringComparison.Ordinal);
    }

    [ToolFact("prlimit", "util-linux")]
    public async Task ReloadWhileAtTheLimit_AddsAListener_KeepsServing()
    {
        await using var p = await StartAsync(Config(top: "max_connections: 5000"));
        var web = await ListenerAsync();
        _backend.Hold();
        var held = Enumerable.Range(0, Clients).Select(_ => GetAsync(web)).ToList();
        await Poll.UntilAsync(() => held.Any(t => t.IsCompleted) || _backend.Waiting >= 40, "the descriptors spent", Timeout);

        await File.WriteAllTextAsync(ConfigPath, Config(top: "max_connections: 5000",
            extraListener: "  - name: api\n    bind: 127.0.0.1:0\n    routes: [ { service: web } ]"));
        var reply = JsonDocument.Parse(await ControlClient.SendAsync(Socket, "reload", Timeout).WaitAsync(Timeout)).RootElement;
        Assert.False(p.HasExited, p.Log);
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());

        _backend.Release();
        await Task.WhenAll(held).WaitAsync(Timeout);
        await AssertServesNormallyAsync(p, web, "web after the reload");
        await AssertServesNormallyAsync(p, await ListenerAsync("api"), "api after the reload");
    }

    private static async Task AssertServesNormallyAsync(FastLbProcess p, IPEndPoint web, string when)
    {
        // The flood's connections may still be closing: poll until a request is served, then require 20 in a row.
        await Poll.UntilAsync(async () => await GetAsync(web) == 200, $"{when}: a normal request served", Timeout);
        for (var i = 0; i < 20; i++)
        {
            var status = await GetAsync(web);
            Assert.True(status == 200, $"{when}: normal request {i} got {status}\n{p.Log}");
        }
        Assert.False(p.HasExited, $"{when}: fastlb died:\n{p.Log}");
    }

    /// <summary>One GET with Connection: close; its status, or 0 when the connection closed without an answer.</summary>
    private static async Task<int> GetAsync(IPEndPoint endPoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await socket.ConnectAsync(endPoint, cts.Token);
            await socket.SendAsync("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[1024];
            var filled = 0;
            while (filled < buffer.Length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(filled), cts.Token);
                if (n == 0) break;
                filled += n;
            }
            var head = Encoding.ASCII.GetString(buffer, 0, filled);
            return head.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && head.Length >= 12 ? int.Parse(head.AsSpan(9, 3)) : 0;
        }
        catch (SocketException)
        {
            return 0; // reset: closed without an answer
        }
    }
}
