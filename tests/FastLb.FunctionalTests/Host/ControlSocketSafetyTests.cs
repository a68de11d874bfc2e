using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>The control plane stays reachable: its socket is never deleted under another process, comes back after a delete, and cannot be locked out.</summary>
public class ControlSocketSafetyTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();
    private readonly DemoBackends _backends = new();

    private string ConfigPath => _dir.File("fastlb.yaml");
    private string Socket => _dir.File("fastlb.sock");
    private string StatusSocket => _dir.File("status.sock");

    public Task InitializeAsync() => File.WriteAllTextAsync(ConfigPath, _backends.TcpConfig(_dir.Path));

    public async Task DisposeAsync()
    {
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private Task<FastLbProcess> StartAsync() => FastLbProcess.RunAsync(_dir.Path, ConfigPath, Timeout);

    private static async Task<JsonElement> CtlAsync(string socket, string command)
    {
        var reply = await ControlClient.SendAsync(socket, command, Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    [Fact]
    public async Task SecondRun_SameControlSocket_ExitsAndTheRunningOneStaysControllable()
    {
        await using var first = await StartAsync();
        await using var second = FastLbProcess.Start(_dir.Path, "run", "-c", ConfigPath);

        Assert.NotEqual(0, await second.WaitForExitAsync(Timeout));
        Assert.Contains("another process is already listening on", second.Log, StringComparison.Ordinal);
        Assert.True(File.Exists(Socket));
        Assert.Equal(first.Pid, (await CtlAsync(Socket, "status")).GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Run_RegularFileAtTheControlSocketPath_RefusesToStartAndKeepsTheFile()
    {
        await File.WriteAllTextAsync(Socket, "not a socket");
        await using var p = FastLbProcess.Start(_dir.Path, "run", "-c", ConfigPath);

        Assert.NotEqual(0, await p.WaitForExitAsync(Timeout));
        Assert.Contains("exists and is not a socket; refusing to replace it", p.Log, StringComparison.Ordinal);
        Assert.Equal("not a socket", await File.ReadAllTextAsync(Socket));
    }

    [Fact]
    public async Task Sighup_ControlSocketFileDeleted_RecreatedAndLogged()
    {
        await using var p = await StartAsync();
        File.Delete(Socket);

        p.Signal(FastLbProcess.SIGHUP);

        await p.WaitForLogAsync($"control socket {Socket} was gone; recreated it", Timeout);
        Assert.Equal(p.Pid, (await CtlAsync(Socket, "status")).GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task IdleAndTricklingClients_CannotLockCtlOut_EachIsCutAtTheCommandDeadline()
    {
        await using var p = await StartAsync();
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 20; i++) idle.Add(await ConnectAsync(Socket)); // every slot, reserve included
            var trickling = idle.Take(4).ToList();
            using var trickle = new CancellationTokenSource();
            var trickler = Task.Run(async () =>
            {
                // One byte every 500 ms never completes a line: the 2 s deadline still applies.
                while (!trickle.IsCancellationRequested)
                {
                    foreach (var s in trickling)
                    {
                        try
                        {
                            await s.SendAsync("s"u8.ToArray());
                        }
                        catch (SocketException)
                        {
                        }
                    }
                    await Task.Delay(500);
                }
            });

            var started = DateTime.UtcNow;
            JsonElement? status = null;
            while (status is null && DateTime.UtcNow - started < Timeout)
            {
                try
                {
                    var reply = await CtlAsync(Socket, "status");
                    if (reply.GetProperty("ok").GetBoolean()) status = reply;
                }
                catch (Exception e) when (e is SocketException or IOException or JsonException or KeyNotFoundException)
                {
                }
                if (status is null) await Task.Delay(100);
            }
            trickle.Cancel();
            await trickler.WaitAsync(Timeout);

            Assert.NotNull(status);
            // Served once the deadline cut the idle ones (2 s), with room for a loaded machine.
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), $"ctl got through after {DateTime.UtcNow - started}");
            foreach (var s in trickling) Assert.True(await ClosedByServerAsync(s), "a trickling client was not cut at the deadline");
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // FastLb runs on Linux only (README)
    public async Task StatusSocket_Mode0660_AnswersStatusStatsEvents_RefusesChangesAndUpgrade()
    {
        var gid = CurrentGid();
        await File.WriteAllTextAsync(ConfigPath, _backends.TcpConfig(_dir.Path).Replace("admin:\n",
            $"admin:\n  status_socket: {StatusSocket}\n  status_group: \"{gid}\"\n", StringComparison.Ordinal));
        await using var p = await StartAsync();
        await p.WaitForLogAsync("bind status socket", Timeout);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(StatusSocket));
        Assert.True((await CtlAsync(StatusSocket, "status")).GetProperty("ok").GetBoolean());
        Assert.True((await CtlAsync(StatusSocket, "events")).GetProperty("ok").GetBoolean());
        Assert.True((await CtlAsync(StatusSocket, "stats web")).GetProperty("ok").GetBoolean());
        foreach (var command in new[] { "swap web green", "rollback web", "reload", "upgrade", "drain web blue 127.0.0.1:1" })
        {
            var reply = await CtlAsync(StatusSocket, command);
            Assert.False(reply.GetProperty("ok").GetBoolean(), command);
            Assert.Contains("is not allowed on the read-only status socket", reply.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        // Nothing changed, and the control socket still takes changes.
        Assert.True((await CtlAsync(Socket, "swap web green")).GetProperty("ok").GetBoolean());
        await p.WaitForLogAsync("control: 'swap web green' from uid", Timeout); // logged through the background queue: after the reply, maybe
        Assert.False(p.HasExited);
    }

    private static async Task<Socket> ConnectAsync(string path)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(Timeout);
                return s;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                s.Dispose(); // the listen backlog is full for a moment (EAGAIN): try again
                await Task.Delay(20);
            }
        }
    }

    /// <summary>True once the server closed <paramref name="socket"/> (EOF or reset), after any error line it sent.</summary>
    private static async Task<bool> ClosedByServerAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string CurrentGid() =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Gid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
}
