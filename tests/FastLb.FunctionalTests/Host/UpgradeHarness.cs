using System.Net;
using System.Text.Json;
using FastLb.Host.Control;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Host;

/// <summary>
/// The real fastlb binary behind an http and a tcp listener (blue/green demo backends), upgraded by the tests. Every
/// process of the chain is tracked by pid (the new ones are not the test's children) and killed at the end.
/// </summary>
internal sealed class UpgradeHarness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly HashSet<int> _pids = [];

    public UpgradeHarness()
    {
        Dir = new TempDir();
        Backends = new DemoBackends();
    }

    public TempDir Dir { get; }
    public DemoBackends Backends { get; }
    public FastLbProcess? First { get; private set; }
    public string ConfigPath => Dir.File("fastlb.yaml");
    public string Socket => Dir.File("fastlb.sock");

    /// <summary>The config: listeners http 'web' and tcp 'pg' (both port 0 unless given), admin HTTP, service web.</summary>
    public string Config(string shares = "active: blue", string drainTimeout = "3s", string upgradeTimeout = "30s", string? extraListener = null, bool withTcp = true) => $"""
        workers: 2
        pin_workers: false
        admin:
          control_socket: {Socket}
          listen: 127.0.0.1:0
          upgrade_timeout: {upgradeTimeout}
        defaults:
          connect_timeout: 1s
          drain_timeout: {drainTimeout}
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: http
            routes:
              - service: web
        {(withTcp ? "  - name: pg\n    bind: 127.0.0.1:0\n    protocol: tcp\n    service: web\n" : "")}{extraListener ?? ""}
        services:
          web:
            {shares}
            drain_timeout: 30s
            pools:
              blue:
                - {Backends.All[0].EndPoint}
                - {Backends.All[1].EndPoint}
              green:
                - {Backends.All[2].EndPoint}
                - {Backends.All[3].EndPoint}
        """;

    public async Task<FastLbProcess> StartAsync(string? config = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        await File.WriteAllTextAsync(ConfigPath, config ?? Config());
        First = await FastLbProcess.RunAsync(Dir.Path, ConfigPath, Timeout, environment);
        _pids.Add(First.Pid);
        return First;
    }

    public async Task<JsonElement> CtlAsync(string command) => await CtlAsync(command, Timeout);

    private async Task<JsonElement> CtlAsync(string command, TimeSpan timeout)
    {
        var reply = await ControlClient.SendAsync(Socket, command, timeout).WaitAsync(timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    /// <summary>
    /// Runs `upgrade` on the control socket; the reply (its new_pid is tracked for cleanup). The reply comes once the
    /// new process is ready, which on a loaded machine may take most of upgrade_timeout (30 s here by default).
    /// </summary>
    public async Task<JsonElement> UpgradeAsync(string? binary = null)
    {
        var reply = await CtlAsync(binary is null ? "upgrade" : $"upgrade --binary {binary}", Timeout * 2);
        if (reply.TryGetProperty("new_pid", out var pid) && pid.ValueKind == JsonValueKind.Number) _pids.Add(pid.GetInt32());
        return reply;
    }

    public Task<IPEndPoint> ListenerAsync(string name) => FastLbProcess.ListenerAsync(Socket, Timeout, name);

    /// <summary>A shell script standing in for a new binary: `#!/bin/sh` and <paramref name="body"/>.</summary>
    public string Script(string name, string body)
    {
        var path = Dir.File(name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>A script that runs this build's fastlb with extra environment (the upgrade test hook).</summary>
    public string FastLbWithEnvironment(string name, string environment) =>
        Script(name, $"{environment} exec dotnet {Path.Combine(AppContext.BaseDirectory, "fastlb.dll")} \"$@\"");

    public void Track(int pid) => _pids.Add(pid);

    public static bool IsAlive(int pid)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return cmdline.Contains("fastlb", StringComparison.Ordinal) && !stat.Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Waits until <paramref name="pid"/> is gone.</summary>
    public static async Task WaitForExitAsync(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"pid {pid} still running after {timeout}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pid in _pids)
        {
            if (IsAlive(pid)) _ = Kill(pid, 9);
        }
        if (First is not null) await First.DisposeAsync();
        await Backends.DisposeAsync();
        Dir.Dispose();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int sig);
}
