using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Control;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>Blue/green through the control socket against an in-process FastLb on loopback.</summary>
public class ReleaseFlowTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly DemoBackends _backends = new();
    private HttpLb _lb = null!;
    private IPEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        _lb = await HttpLb.StartAsync(_backends.TcpConfig());
        _endPoint = _lb.EndPoint;
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    private Task<JsonElement> CtlAsync(string command) => _lb.CtlAsync(command);

    [Fact]
    public async Task Swap_WhileConnectionsArriveContinuously_NoFailuresAndNoneToOldPoolAfterReply()
    {
        var clock = Stopwatch.StartNew();
        long swapRepliedAt = long.MaxValue;
        var results = new List<(long StartedAt, string Backend)>();
        var failures = new List<string>();
        // Clients run until one second after the swap reply, however long the swap took to answer.
        var stopTicks = long.MaxValue;

        async Task ClientLoopAsync()
        {
            while (clock.ElapsedTicks < Interlocked.Read(ref stopTicks))
            {
                var started = clock.ElapsedTicks;
                try
                {
                    var backend = await HttpClientConnection.GetBackendOnceAsync(_endPoint, Timeout);
                    lock (results) results.Add((started, backend));
                }
                catch (Exception e)
                {
                    lock (failures) failures.Add(e.Message);
                }
            }
        }

        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(ClientLoopAsync)).ToArray();
        JsonElement reply;
        try
        {
            await Task.Delay(800);
            reply = await CtlAsync("swap web green");
            Interlocked.Exchange(ref swapRepliedAt, clock.ElapsedTicks);
            Interlocked.Exchange(ref stopTicks, clock.ElapsedTicks + System.Diagnostics.Stopwatch.Frequency);
        }
        catch
        {
            Interlocked.Exchange(ref stopTicks, 0); // never leave the client loops running
            throw;
        }
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(reply.GetProperty("ok").GetBoolean());
        Assert.Empty(failures);
        var after = results.Where(r => r.StartedAt > swapRepliedAt).ToList();
        Assert.NotEmpty(after);
        Assert.All(after, r => Assert.StartsWith("green-", r.Backend));
        Assert.Contains(results, r => r.Backend.StartsWith("blue-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Swap_LongConnectionOnBlue_SurvivesThenClosedAtDrainTimeout()
    {
        await using var client = await HttpClientConnection.ConnectAsync(_endPoint);
        Assert.StartsWith("blue-", (await client.GetAsync()).Backend);

        var swap = await CtlAsync("swap web green");
        Assert.True(swap.GetProperty("ok").GetBoolean());

        // The open connection keeps its backend: the next request on it still reaches blue.
        Assert.StartsWith("blue-", (await client.GetAsync()).Backend);
        var status = await CtlAsync("status");
        var blue = status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue");
        Assert.Equal(1, blue.GetProperty("live").GetInt32());
        Assert.Equal(JsonValueKind.Null, blue.GetProperty("draining").GetProperty("drained_at").ValueKind);

        // drain_timeout is 1s: the connection is cut, then status records when blue reached 0.
        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed);
        Assert.Empty(extra);
        await Poll.UntilAsync(async () =>
        {
            var s = await CtlAsync("status");
            var d = s.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue").GetProperty("draining");
            return d.GetProperty("drained_at").ValueKind == JsonValueKind.String;
        }, "status records when blue drained", Timeout);
    }

    [Fact]
    public async Task Reload_GoodFileThenBadFile_AppliesFirstKeepsRunningConfigOnSecond()
    {
        await _lb.RewriteConfigAsync(_backends.TcpConfig(shares: "split: { blue: 50, green: 50 }"));
        var good = await CtlAsync("reload");
        Assert.True(good.GetProperty("ok").GetBoolean());
        var generation = good.GetProperty("generation").GetInt64();

        await _lb.RewriteConfigAsync(_backends.TcpConfig(shares: "split: { blue: 50, gren: 50 }"));
        var bad = await CtlAsync("reload");

        Assert.False(bad.GetProperty("ok").GetBoolean());
        Assert.Contains($"{_lb.ConfigPath}:", bad.GetProperty("error").GetString());
        Assert.Contains("gren", bad.GetProperty("error").GetString());
        var status = await CtlAsync("status");
        Assert.Equal(generation, status.GetProperty("generation").GetInt64());
        Assert.Equal(50, status.GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty("green").GetInt32());
        var seen = new HashSet<string>();
        for (var i = 0; i < 8; i++) seen.Add((await HttpClientConnection.GetBackendOnceAsync(_endPoint, Timeout))[..4]);
        Assert.Contains("gree", seen);
        Assert.Contains("blue", seen);
    }

    [Fact]
    public async Task Ctl_UnknownPool_ErrorNamesChoicesAndGenerationUnchanged()
    {
        var before = (await CtlAsync("status")).GetProperty("generation").GetInt64();

        var reply = await CtlAsync("swap web gren");

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.Equal("unknown pool 'gren' in service 'web'; pools are: blue, green", reply.GetProperty("error").GetString());
        Assert.Equal(before, (await CtlAsync("status")).GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task Ctl_Rollback_ReturnsTrafficToBlueAtOnce()
    {
        await CtlAsync("swap web green");
        Assert.StartsWith("green-", await HttpClientConnection.GetBackendOnceAsync(_endPoint, Timeout));

        var reply = await CtlAsync("rollback web");

        Assert.True(reply.GetProperty("ok").GetBoolean());
        for (var i = 0; i < 4; i++) Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(_endPoint, Timeout));
    }

    [Fact]
    public async Task ControlSocket_OverlongLine_RefusedWithError()
    {
        var reply = await ControlClient.SendAsync(_lb.ControlSocket, new string('x', ControlServer.MaxLineBytes + 10), Timeout).WaitAsync(Timeout);

        Assert.Contains("longer than", reply);
    }
}
