using System.Net;
using System.Text.Json;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>The real fastlb binary as a child process: start, signals, control socket permissions, check.</summary>
public class ProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();
    private readonly DemoBackends _backends = new();

    private string ConfigPath => _dir.File("fastlb.yaml");
    private string Socket => _dir.File("fastlb.sock");

    public Task InitializeAsync() => File.WriteAllTextAsync(ConfigPath, _backends.TcpConfig(_dir.Path));

    public async Task DisposeAsync()
    {
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private Task<FastLbProcess> StartAsync() => FastLbProcess.RunAsync(_dir.Path, ConfigPath, Timeout);

    private async Task<JsonElement> CtlAsync(string command)
    {
        var reply = await ControlClient.SendAsync(Socket, command, Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    private Task<IPEndPoint> ListenerAsync() => FastLbProcess.ListenerAsync(Socket, Timeout);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_TwoWorkers_EventLoopsPinnedToOneCpuEach_UnlessPinWorkersFalse(bool pin)
    {
        await File.WriteAllTextAsync(ConfigPath, $"workers: 2\npin_workers: {(pin ? "true" : "false")}\n" + _backends.TcpConfig(_dir.Path));
        await using var p = await StartAsync();

        var processCpus = AllowedCpus($"/proc/{p.Pid}/status");
        var cpuList = CpuList(processCpus);
        foreach (var (loop, expected) in new[] { ("fastlb-loop-0", 0), ("fastlb-loop-1", 1) })
        {
            var loopCpus = AllowedCpus(ThreadStatusPath(p.Pid, loop));
            // Pinned: loop i on the i-th CPU the process may use (nothing to pin to on a one-CPU machine).
            var want = pin && cpuList.Count > 1 ? cpuList[expected].ToString(System.Globalization.CultureInfo.InvariantCulture) : processCpus;
            Assert.Equal(want, loopCpus);
        }
    }

    private static string ThreadStatusPath(int pid, string threadName)
    {
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == threadName) return Path.Combine(task, "status");
        }
        throw new Xunit.Sdk.XunitException($"no thread named {threadName} in process {pid}");
    }

    private static string AllowedCpus(string statusPath) =>
        File.ReadAllLines(statusPath).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            .Split(':', 2)[1].Trim();

    /// <summary>"0-2,5" → [0, 1, 2, 5].</summary>
    private static List<int> CpuList(string list)
    {
        var cpus = new List<int>();
        foreach (var part in list.Split(','))
        {
            var bounds = part.Split('-');
            var first = int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture);
            var last = bounds.Length > 1 ? int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture) : first;
            for (var cpu = first; cpu <= last; cpu++) cpus.Add(cpu);
        }
        return cpus;
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // FastLb runs on Linux only (README)
    public async Task Run_ControlSocket_CreatedMode0600()
    {
        await using var p = await StartAsync();

        var mode = File.GetUnixFileMode(Socket);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public async Task Sighup_EditedFile_Reloaded()
    {
        await using var p = await StartAsync();
        var endPoint = await ListenerAsync();
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(endPoint, Timeout));

        await File.WriteAllTextAsync(ConfigPath, _backends.TcpConfig(_dir.Path, shares: "active: green"));
        p.Signal(FastLbProcess.SIGHUP);
        await p.WaitForLogAsync("reload ok", Timeout);

        Assert.StartsWith("green-", await HttpClientConnection.GetBackendOnceAsync(endPoint, Timeout));
        Assert.False(p.HasExited);
    }

    [Fact]
    public async Task Sighup_BadFile_KeepsServingAndLogsPosition()
    {
        await using var p = await StartAsync();
        var endPoint = await ListenerAsync();

        await File.WriteAllTextAsync(ConfigPath, "listeners:\n  - name: web\n    bnd: 127.0.0.1:0\n");
        p.Signal(FastLbProcess.SIGHUP);
        await p.WaitForLogAsync("reload failed", Timeout);
        // The error lines follow the "reload failed" line: wait for them rather than read the log at once.
        await p.WaitForLogAsync($"{ConfigPath}:3:5:", Timeout);

        Assert.Contains($"{ConfigPath}:3:5:", p.Log);
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(endPoint, Timeout));
    }

    [Fact]
    public async Task Sigterm_Running_StopsAcceptingAndExitsZero()
    {
        await using var p = await StartAsync();
        var endPoint = await ListenerAsync();
        Assert.StartsWith("blue-", await HttpClientConnection.GetBackendOnceAsync(endPoint, Timeout));

        p.Signal(FastLbProcess.SIGTERM);
        var code = await p.WaitForExitAsync(Timeout);

        Assert.Equal(0, code);
        Assert.Contains("stopped", p.Log);
        Assert.False(File.Exists(Socket));
    }

    [Fact]
    public async Task Run_StartLogAndStatus_SayWhichTransportRunsAndWhy()
    {
        // This suite runs once per transport: FASTLB_IO=io_uring in FastLb.FunctionalTests.Uring, epoll here (EpollTransport.cs).
        var expected = Environment.GetEnvironmentVariable("FASTLB_IO") == "io_uring" ? "io_uring" : "epoll";

        await using var p = await StartAsync();

        Assert.Contains($" io={expected} (io: ", p.Log);
        var io = (await CtlAsync("status")).GetProperty("io");
        Assert.Equal(expected, io.GetProperty("transport").GetString());
        Assert.StartsWith("io: ", io.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Check_BadFile_PrintsPositionsAndExitsOne()
    {
        await File.WriteAllTextAsync(ConfigPath, "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: htp\n");
        await using var p = FastLbProcess.Start(_dir.Path, "check", "-c", ConfigPath);

        var code = await p.WaitForExitAsync(Timeout);

        Assert.Equal(1, code);
        Assert.Contains($"{ConfigPath}:4:15:", p.Log);
    }

    [Fact]
    public async Task Ctl_StatusThroughConfigFile_PrintsReadableTree()
    {
        await using var p = await StartAsync();
        await using var ctl = FastLbProcess.Start(_dir.Path, "ctl", "-c", ConfigPath, "status");

        Assert.Equal(0, await ctl.WaitForExitAsync(Timeout));
        Assert.Contains("service web", ctl.Log);
        Assert.Contains("pool blue", ctl.Log);
    }
}
