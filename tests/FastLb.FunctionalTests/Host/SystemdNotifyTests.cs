using System.Net.Sockets;
using System.Text;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Systemd;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>Under systemd Type=notify, fastlb reports READY, RELOADING and STOPPING through NOTIFY_SOCKET.</summary>
public class SystemdNotifyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Run_WithNotifySocket_SendsReadyReloadingStopping()
    {
        using var dir = new TempDir();
        await using var backends = new DemoBackends();
        var config = dir.File("fastlb.yaml");
        await File.WriteAllTextAsync(config, backends.TcpConfig(dir.Path));
        var notifyPath = dir.File("notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));

        await using var p = await FastLbProcess.RunAsync(dir.Path, config, Timeout, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath });

        Assert.Contains("READY=1", await ReceiveAsync(notify)); // sent before the ready line, so already waiting in the socket
        p.Signal(FastLbProcess.SIGHUP);
        Assert.Contains("RELOADING=1", await ReceiveAsync(notify));
        Assert.Contains("READY=1", await ReceiveAsync(notify));
        p.Signal(FastLbProcess.SIGTERM);
        Assert.Contains("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await p.WaitForExitAsync(Timeout));
    }

    [Fact]
    public async Task Reload_FailureOtherThanABadFile_IsReportedAndReadyIsSentAgain()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        using var dir = new TempDir();
        await using var backends = new DemoBackends();
        var config = ConfigLoader.Parse(backends.TcpConfig(dir.Path), "notify-test.yaml", dir.Path);
        var notifyPath = dir.File("notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var failing = false;
        await using var runtime = new FastLbRuntime(
            () => failing ? throw new InvalidOperationException("state store unavailable") : config,
            systemd: new SystemdNotifier(notifyPath));
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));
        Assert.Contains("READY=1", await ReceiveAsync(notify));
        var generation = runtime.Router.Current.Generation;
        failing = true;

        // `fastlb ctl reload`: the reply carries the failure.
        var result = await runtime.ReloadAsync().WaitAsync(Timeout);
        Assert.False(result.Ok);
        Assert.Contains("state store unavailable", Assert.Single(result.Errors));
        Assert.Equal(generation, result.Generation);
        Assert.Contains("RELOADING=1", await ReceiveAsync(notify));
        Assert.Contains("READY=1", await ReceiveAsync(notify));

        // SIGHUP: nobody awaits the reload, yet systemd still hears READY=1 and the process keeps serving.
        await runtime.ReloadOnSignalAsync().WaitAsync(Timeout);
        Assert.Contains("RELOADING=1", await ReceiveAsync(notify));
        Assert.Contains("READY=1", await ReceiveAsync(notify));
        Assert.Equal(generation, runtime.Router.Current.Generation);

        failing = false;
        Assert.True((await runtime.ReloadAsync().WaitAsync(Timeout)).Ok);
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[1024];
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
