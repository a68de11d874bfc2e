using System.Net.Sockets;
using System.Text;
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

        await using var p = FastLbProcess.Start(dir.Path, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath }, "run", "-c", config);

        Assert.Contains("READY=1", await ReceiveAsync(notify));
        p.Signal(FastLbProcess.SIGHUP);
        Assert.Contains("RELOADING=1", await ReceiveAsync(notify));
        Assert.Contains("READY=1", await ReceiveAsync(notify));
        p.Signal(FastLbProcess.SIGTERM);
        Assert.Contains("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await p.WaitForExitAsync(Timeout));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[1024];
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
