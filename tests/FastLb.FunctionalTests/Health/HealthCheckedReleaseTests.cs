using System.Net;
using System.Text.Json;
using FastLb.FunctionalTests.Host;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Health;

/// <summary>
/// A release through the fastlb binary with a health-checked green: the gate refuses green while it is down, lets it
/// through once its checks pass, and when one of green's two backends shuts down under keep-alive load no client
/// request fails.
/// </summary>
public sealed class HealthCheckedReleaseTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();
    private readonly HealthBackend[] _blue = [HealthBackend.Start("blue-1"), HealthBackend.Start("blue-2")];
    private readonly HealthBackend[] _green = [HealthBackend.Start("green-1"), HealthBackend.Start("green-2")];
    private FastLbProcess? _lb;

    private string ConfigPath => _dir.File("fastlb.yaml");
    private string Socket => _dir.File("fastlb.sock");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_lb is not null) await _lb.DisposeAsync();
        foreach (var b in _blue.Concat(_green)) await b.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private string Config() => $"""
        admin:
          control_socket: {Socket}
        defaults:
          connect_timeout: 1s
          drain_timeout: 2s
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: http
            routes:
              - service: web
        services:
          web:
            active: blue
            health_check: {"{"} type: http, path: /healthz, interval: 500ms, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 2 {"}"}
            outlier: {"{"} consecutive_failures: 2, base_ejection: 30s {"}"}
            pools:
              blue:
                - {_blue[0].Address}
                - {_blue[1].Address}
              green:
                - {_green[0].Address}
                - {_green[1].Address}
        """;

    private async Task<JsonElement> CtlAsync(string command)
    {
        var reply = await ControlClient.SendAsync(Socket, command, Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    private async Task<string> HealthAsync(string pool, HealthBackend backend)
    {
        var backends = (await CtlAsync("status")).GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty(pool).GetProperty("backends");
        return backends.EnumerateArray().First(b => b.GetProperty("address").GetString() == backend.Address).GetProperty("health").GetString()!;
    }

    private async Task WaitHealthAsync(string pool, HealthBackend backend, params string[] states)
    {
        var deadline = DateTime.UtcNow + Timeout;
        string last;
        while (Array.IndexOf(states, last = await HealthAsync(pool, backend)) < 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{backend.Name} stayed {last}, wanted {string.Join(" or ", states)}:\n{_lb!.Log}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task GreenStartsDown_SwapRefused_ThenHealthy_Swapped_LosesABackendUnderLoad_NoRequestFails()
    {
        foreach (var g in _green) g.HealthStatus = 503;
        await File.WriteAllTextAsync(ConfigPath, Config());
        _lb = await FastLbProcess.RunAsync(_dir.Path, ConfigPath, Timeout);
        var bind = await FastLbProcess.ListenerAsync(Socket, Timeout);

        // The gate: green is known down before it has any share, and the swap names what is down.
        foreach (var g in _green) await WaitHealthAsync("green", g, "unhealthy");
        var refused = await CtlAsync("swap web green");
        Assert.False(refused.GetProperty("ok").GetBoolean());
        var error = refused.GetProperty("error").GetString()!;
        Assert.Contains(_green[0].Address, error);
        Assert.Contains(_green[1].Address, error);

        foreach (var g in _green) g.HealthStatus = 200;
        foreach (var g in _green) await WaitHealthAsync("green", g, "healthy");
        Assert.True((await CtlAsync("swap web green")).GetProperty("ok").GetBoolean());

        var load = new ContinuousLoad(Enumerable.Repeat(bind, 4), []);
        try
        {
            await load.WaitForProgressAsync(300, Timeout);
            var greenServedBefore = _green[1].Served;
            Assert.True(greenServedBefore > 0, "green-2 took no traffic after the swap");

            // green-2 stops: its listener closes (new connects are refused) and so do its idle keep-alive connections.
            _green[1].Backend.CloseGracefully();
            await load.WaitForProgressAsync(1000, Timeout);
            await WaitHealthAsync("green", _green[1], "unhealthy", "ejected");
            var servedByRest = _green[0].Served;
            await load.WaitForProgressAsync(300, Timeout);
            Assert.True(_green[0].Served > servedByRest, "green-1 stopped taking traffic");
        }
        finally
        {
            await load.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} of {load.Succeeded + load.Failures.Count} requests failed: {string.Join(" | ", load.Failures.Take(5))}\n{_lb.Log}");
        Assert.Equal(0, _blue[0].Served + _blue[1].Served); // the load started after the swap
    }
}
