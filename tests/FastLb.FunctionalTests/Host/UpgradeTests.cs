using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>`fastlb upgrade`: the real binary hands its sockets and state to a new process of itself.</summary>
public class UpgradeTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = UpgradeHarness.Timeout;
    private readonly UpgradeHarness _lb = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lb.DisposeAsync();

    [Fact]
    public async Task Upgrade_AfterSwap_StateSurvivesAndRollbackReturnsToBlue()
    {
        var first = await _lb.StartAsync();
        var pg = await _lb.ListenerAsync("pg");
        // A TCP connection on blue, held open across the swap and the upgrade: blue drains with it.
        await using var held = await HttpClientConnection.ConnectAsync(pg);
        Assert.StartsWith("blue-", (await held.GetAsync()).Backend);
        await _lb.CtlAsync("swap web green");
        var before = (await _lb.CtlAsync("status")).GetProperty("services").GetProperty("web");
        var drain = before.GetProperty("pools").GetProperty("blue").GetProperty("draining");
        Assert.Equal(1, drain.GetProperty("live").GetInt32());

        var reply = await _lb.UpgradeAsync();

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var newPid = reply.GetProperty("new_pid").GetInt32();
        var status = await _lb.CtlAsync("status");
        var process = status.GetProperty("process");
        Assert.Equal(newPid, status.GetProperty("pid").GetInt32());
        Assert.Equal(first.Pid, process.GetProperty("upgraded_from_pid").GetInt32());
        Assert.Equal(2, process.GetProperty("generation").GetInt32());
        var web = status.GetProperty("services").GetProperty("web");
        Assert.Equal(100, web.GetProperty("shares").GetProperty("green").GetInt32());
        Assert.Equal("runtime", web.GetProperty("source").GetString());
        var blueDrain = web.GetProperty("pools").GetProperty("blue").GetProperty("draining");
        Assert.Equal(drain.GetProperty("since").GetString(), blueDrain.GetProperty("since").GetString());
        Assert.Equal(drain.GetProperty("deadline").GetString(), blueDrain.GetProperty("deadline").GetString());
        Assert.StartsWith("green-", await HttpClientConnection.GetBackendOnceAsync(await _lb.ListenerAsync("web"), Timeout));
        // The held connection is still the old process's, still on blue.
        Assert.StartsWith("blue-", (await held.GetAsync()).Backend);

        var rollback = await _lb.CtlAsync("rollback web");

        Assert.True(rollback.GetProperty("ok").GetBoolean(), rollback.ToString());
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(await _lb.ListenerAsync("web"), Timeout));
        Assert.Equal(100, (await _lb.CtlAsync("status")).GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty("blue").GetInt32());
    }

    [Fact]
    public async Task Upgrade_RolloutRunning_NewProcessContinuesAtTheSameStepOnTheSameClock()
    {
        await _lb.StartAsync();
        await _lb.CtlAsync("rollout web green --steps 10,50,100 --interval 60s --min-requests 1000 --manual-gate 100");
        await Task.Delay(300); // some of the window passes in the old process
        var before = (await _lb.CtlAsync("rollout-status web")).GetProperty("rollout");
        Assert.Equal("running", before.GetProperty("state").GetString());

        var reply = await _lb.UpgradeAsync();

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var status = await _lb.CtlAsync("status");
        Assert.Equal(reply.GetProperty("new_pid").GetInt32(), status.GetProperty("pid").GetInt32());
        Assert.Equal(10, status.GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty("green").GetInt32());
        var after = (await _lb.CtlAsync("rollout-status web")).GetProperty("rollout");
        Assert.Equal("running", after.GetProperty("state").GetString());
        Assert.Equal(1, after.GetProperty("step").GetInt32());
        Assert.Equal(before.GetProperty("started_at").GetString(), after.GetProperty("started_at").GetString());
        Assert.Equal(before.GetProperty("settings").GetString(), after.GetProperty("settings").GetString());
        // The step's window runs on: it did not start over in the new process.
        var beforeElapsed = before.GetProperty("window").GetProperty("elapsed_ms").GetInt64();
        var afterElapsed = after.GetProperty("window").GetProperty("elapsed_ms").GetInt64();
        Assert.True(afterElapsed > beforeElapsed, $"window elapsed {afterElapsed} ms after the upgrade, {beforeElapsed} ms before");
        Assert.Equal(60_000 - afterElapsed, after.GetProperty("window").GetProperty("ends_in_ms").GetInt64(), tolerance: 50);

        // The new process drives it: promote moves to 50%, the manual gate before 100% holds, abort returns to blue.
        var promote = await _lb.CtlAsync("promote web");
        Assert.True(promote.GetProperty("ok").GetBoolean(), promote.ToString());
        Assert.Equal(50, (await _lb.CtlAsync("status")).GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty("green").GetInt32());
        Assert.Equal("promoted", (await _lb.CtlAsync("rollout-status web")).GetProperty("rollout").GetProperty("verdicts")[0].GetProperty("outcome").GetString());
        var abort = await _lb.CtlAsync("abort web");
        Assert.True(abort.GetProperty("ok").GetBoolean(), abort.ToString());
        var web = (await _lb.CtlAsync("status")).GetProperty("services").GetProperty("web");
        Assert.Equal(100, web.GetProperty("shares").GetProperty("blue").GetInt32());
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(await _lb.ListenerAsync("web"), Timeout));
    }

    [Theory]
    [InlineData("exit-at-start")]
    [InlineData("hang-before-ready")]
    [InlineData("bad-config")]
    public async Task Upgrade_NewProcessFails_OldKeepsServingWithoutFailedRequests(string failure)
    {
        // A hanging new process costs the whole upgrade_timeout: short there; the others fail on their own, and a
        // loaded machine may take seconds to start one.
        var first = await _lb.StartAsync(_lb.Config(upgradeTimeout: failure == "hang-before-ready" ? "8s" : "30s"));
        var web = await _lb.ListenerAsync("web");
        var pg = await _lb.ListenerAsync("pg");
        await using var load = new ContinuousLoad([web, web], [web, pg]);
        await load.WaitForProgressAsync(20, Timeout);

        string? binary = null;
        string expected;
        switch (failure)
        {
            case "exit-at-start":
                binary = _lb.Script("fastlb-broken", "exit 1");
                expected = "exited (code 1) before it was ready";
                break;
            case "hang-before-ready":
                binary = _lb.FastLbWithEnvironment("fastlb-hangs", "FASTLB_UPGRADE_TEST_HOOK=hang-before-ready");
                expected = "was not ready within upgrade_timeout (8s)";
                break;
            default:
                await File.WriteAllTextAsync(_lb.ConfigPath, "listeners:\n  - name: web\n    bnd: 127.0.0.1:0\n");
                expected = $"{_lb.ConfigPath}:3:5:";
                break;
        }
        var upgrade = _lb.UpgradeAsync(binary);
        if (failure == "hang-before-ready")
        {
            await first.WaitForLogAsync("hanging until killed", Timeout);
            // One upgrade at a time, and no runtime change while the state is being handed over.
            var second = await _lb.CtlAsync("upgrade");
            Assert.False(second.GetProperty("ok").GetBoolean());
            Assert.Contains("already in progress", second.GetProperty("error").GetString());
            var swap = await _lb.CtlAsync("swap web green");
            Assert.Contains("upgrade is in progress", swap.GetProperty("error").GetString());
        }
        var reply = await upgrade.WaitAsync(Timeout);

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.True(reply.GetProperty("error").GetString()!.Contains(expected, StringComparison.Ordinal), $"expected '{expected}' in: {reply}");
        Assert.Contains($"pid {first.Pid} keeps serving", reply.GetProperty("error").GetString());
        if (reply.GetProperty("new_pid").ValueKind == System.Text.Json.JsonValueKind.Number)
        {
            await UpgradeHarness.WaitForExitAsync(reply.GetProperty("new_pid").GetInt32(), Timeout);
        }
        await load.WaitForProgressAsync(50, Timeout);
        var status = await _lb.CtlAsync("status");
        Assert.Equal(first.Pid, status.GetProperty("pid").GetInt32());
        Assert.False(status.GetProperty("process").GetProperty("upgrade_in_progress").GetBoolean());
        Assert.Empty(load.Failures);
        Assert.False(first.HasExited);
    }

    [Fact]
    public async Task UpgradeCommand_BadConfig_ExitsNonZeroWithTheReason()
    {
        var first = await _lb.StartAsync();
        await File.WriteAllTextAsync(_lb.ConfigPath, "listeners:\n  - name: web\n    protocol: htp\n");

        await using var ctl = FastLbProcess.Start(_lb.Dir.Path, "upgrade", "--socket", _lb.Socket);

        Assert.Equal(1, await ctl.WaitForExitAsync(Timeout));
        Assert.Contains("upgrade failed", ctl.Log);
        Assert.Contains($"{_lb.ConfigPath}:3:15:", ctl.Log);
        Assert.Equal(first.Pid, (await _lb.CtlAsync("status")).GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Upgrade_WebSocketOpen_StaysOpenInTheOldProcessUntilItsDrainTimeout()
    {
        await using var ws = RawHttpBackend.StartUpgradeEcho();
        var config = $"""
            admin:
              control_socket: {_lb.Socket}
            defaults:
              drain_timeout: 3s
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes:
                  - service: chat
            services:
              chat:
                pools:
                  main: [{ws.EndPoint}]
            """;
        var first = await _lb.StartAsync(config);
        var web = await _lb.ListenerAsync("web");
        await using var client = await HttpClientConnection.ConnectAsync(web);
        var upgrade = await client.RequestAsync("GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        Assert.Equal(101, upgrade.Status);
        Assert.Equal("before", await EchoAsync(client, "before"));

        var reply = await _lb.UpgradeAsync();
        var upgradedAt = DateTime.UtcNow;

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("after", await EchoAsync(client, "after"));
        Assert.False(first.HasExited);
        // The tunnel ends (FIN or RST) at the old process's drain timeout (3 s), then the old process exits 0.
        var (closed, extra) = await client.WaitForCloseAsync(Timeout);
        Assert.True(closed);
        Assert.Empty(extra);
        Assert.InRange(DateTime.UtcNow - upgradedAt, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));
        await Poll.UntilAsync(() => first.HasExited, "the old process exited");
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(reply.GetProperty("new_pid").GetInt32(), (await _lb.CtlAsync("status")).GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Upgrade_ListenersChanged_RemovedOneClosedNewOneBoundAdminKept()
    {
        var first = await _lb.StartAsync();
        var web = await _lb.ListenerAsync("web");
        var pg = await _lb.ListenerAsync("pg");
        var admin = AdminEndPoint(first.Log);
        await File.WriteAllTextAsync(_lb.ConfigPath, _lb.Config(withTcp: false,
            extraListener: "  - name: extra\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"));

        var reply = await _lb.UpgradeAsync();

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal(web, await _lb.ListenerAsync("web"));
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(await _lb.ListenerAsync("extra"), Timeout));
        await Poll.UntilAsync(() => Refused(pg), "the removed listener refuses");
        await using var adminClient = await HttpClientConnection.ConnectAsync(admin);
        var adminStatus = (await adminClient.GetAsync("/status", host: "admin")).BodyText;
        Assert.Contains($"\"pid\":{reply.GetProperty("new_pid").GetInt32()}", adminStatus);
    }

    [Fact]
    public async Task Sigusr2_Running_UpgradesToANewProcess()
    {
        var first = await _lb.StartAsync();
        var web = await _lb.ListenerAsync("web");

        first.Signal(12); // SIGUSR2
        await first.WaitForLogAsync($"took over from pid {first.Pid}", Timeout);

        var status = await _lb.CtlAsync("status");
        var pid = status.GetProperty("pid").GetInt32();
        _lb.Track(pid);
        Assert.NotEqual(first.Pid, pid);
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(web, Timeout));
        await Poll.UntilAsync(() => first.HasExited, "the old process exited");
        Assert.Equal(0, first.ExitCode);
    }

    private static async Task<string> EchoAsync(HttpClientConnection client, string text)
    {
        await client.SendAsync(text);
        return Encoding.ASCII.GetString(await client.ReadExactlyAsync(text.Length));
    }

    private static IPEndPoint AdminEndPoint(string log) =>
        IPEndPoint.Parse(Regex.Match(log, @"bind admin http (\S+)").Groups[1].Value);

    private static bool Refused(IPEndPoint endPoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(endPoint);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }
}
