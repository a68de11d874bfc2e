using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using FastLb.Host.Control;

namespace FastLb.FunctionalTests.Host;

/// <summary>Runs the real fastlb binary as a child process and collects its log; killed on dispose.</summary>
internal sealed class FastLbProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly Lock _logLock = new();

    private FastLbProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once <see cref="HasExited"/>; unlike <see cref="WaitForExitAsync"/> it does not wait for the output pipes to close (a process it started may still hold them).</summary>
    public int ExitCode => _process.ExitCode;

    public string Log
    {
        get
        {
            lock (_logLock) return _log.ToString();
        }
    }

    /// <summary>Starts `fastlb ARGS` from the test's output folder (fastlb.dll is copied there by the project reference).</summary>
    public static FastLbProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, null, args);

    /// <summary>Starts `fastlb ARGS` with extra environment variables.</summary>
    public static FastLbProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Start(workingDirectory, environment, descriptorLimit: null, args);

    /// <summary>
    /// Starts `fastlb run -c CONFIG` in <paramref name="workingDirectory"/> and waits until it logs that it is ready:
    /// listeners bound, control socket open, signals handled. With <paramref name="descriptorLimit"/> it runs under
    /// `prlimit --nofile=LIMIT`, so the process and the runtime in it get at most that many descriptors.
    /// </summary>
    public static async Task<FastLbProcess> RunAsync(string workingDirectory, string configPath, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null, int? descriptorLimit = null)
    {
        var p = Start(workingDirectory, environment, descriptorLimit, ["run", "-c", configPath]);
        try
        {
            await p.WaitForLogAsync("ready pid=", timeout);
        }
        catch
        {
            await p.DisposeAsync();
            throw;
        }
        return p;
    }

    /// <summary>Where the listener named <paramref name="name"/> (or the first) is bound, from `status` on <paramref name="controlSocket"/>.</summary>
    public static async Task<IPEndPoint> ListenerAsync(string controlSocket, TimeSpan timeout, string? name = null)
    {
        var reply = await ControlClient.SendAsync(controlSocket, "status", timeout).WaitAsync(timeout);
        using var status = JsonDocument.Parse(reply);
        foreach (var listener in status.RootElement.GetProperty("listeners").EnumerateArray())
        {
            if (name is null || listener.GetProperty("name").GetString() == name) return IPEndPoint.Parse(listener.GetProperty("bind").GetString()!);
        }
        throw new InvalidOperationException($"no listener '{name}' in status: {reply}");
    }

    private static FastLbProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, int? descriptorLimit, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "fastlb.dll");
        var info = new ProcessStartInfo(descriptorLimit is null ? "dotnet" : "prlimit")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            info.ArgumentList.Add($"--nofile={limit}"); // prlimit then execs dotnet: same pid
            info.ArgumentList.Add("dotnet");
        }
        info.ArgumentList.Add(dll);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) info.Environment[k] = v;
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start fastlb");
        var p = new FastLbProcess(process);
        process.ErrorDataReceived += (_, e) => p.Append(e.Data);
        process.OutputDataReceived += (_, e) => p.Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return p;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_logLock) _log.AppendLine(line);
    }

    /// <summary>Waits until the log contains <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                // Its last lines may still be in the pipe: read to the end before saying the text never came (briefly:
                // a process it started may hold the pipe open).
                try
                {
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                }
                if (Log.Contains(text, StringComparison.Ordinal)) return;
                throw new InvalidOperationException($"fastlb exited with {_process.ExitCode} before logging '{text}':\n{Log}");
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"fastlb did not log '{text}' within {timeout}:\n{Log}");
            await Task.Delay(25);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);

    public const int SIGHUP = 1;
    public const int SIGTERM = 15;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}
