using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport;

namespace FastLb.Host.Upgrade;

/// <summary>
/// The old process's side of an upgrade: starts the new process, hands it every listening socket and the runtime
/// state over the <see cref="UpgradeChannel"/>, and waits until it reports ready, fails, exits or runs out of time.
/// </summary>
/// <remarks>
/// Protocol (one JSON frame each way per step):
/// 1. old → new "handoff": this process's generation, the listeners (name, bind, protocol, descriptor indexes),
///    the admin socket, and the state document; the descriptors ride along (SCM_RIGHTS).
/// 2. new → old "prepared" once its config loaded and checked, the state applied and every listener adopted or bound
///    — still not accepting — or "failed" with the reason.
/// 3. old → new "commit": from here the new process serves. Until then the old one can still kill it and lose
///    nothing: the new one accepted no connection, and the sockets never closed.
/// 4. new → old "ready" once it accepts on every listener and answers on the control socket; the old one then stops
///    calling accept (the sockets stay open in the new process, so connections queued in their backlog are accepted
///    there) and drains.
/// </remarks>
internal sealed class UpgradeCoordinator(FastLbRuntime runtime, TimeSpan timeout)
{
    /// <summary>Test hook read by the new process (documented in docs/operations.md): "exit-before-ready" or "hang-before-ready".</summary>
    public const string TestHookVariable = "FASTLB_UPGRADE_TEST_HOOK";

    public async Task<UpgradeResult> RunAsync(string? binary)
    {
        var clock = Stopwatch.StartNew();
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        (string FileName, List<string> Arguments) command;
        try
        {
            command = UpgradeCommandLine.Build(binary);
        }
        catch (InvalidOperationException e)
        {
            return UpgradeResult.Failed(0, e.Message, clock.Elapsed);
        }
        if (Path.IsPathRooted(command.FileName) && !File.Exists(command.FileName))
        {
            return UpgradeResult.Failed(0, $"no binary at {command.FileName}", clock.Elapsed);
        }

        var (channel, childFd) = UpgradeChannel.CreatePair();
        Process? child = null;
        using (channel)
        {
            try
            {
                child = Start(command.FileName, command.Arguments, childFd);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
            {
                return UpgradeResult.Failed(0, $"cannot start {command.FileName}: {e.Message}", clock.Elapsed);
            }
            finally
            {
                FdPassing.Close(childFd); // the child has its copy
            }
            var pid = child.Id;
            Log.Info($"upgrade: started pid {pid}: {command.FileName} {string.Join(' ', command.Arguments)}");
            try
            {
                var failure = await Task.Run(() => HandOff(channel, child, deadline)).ConfigureAwait(false);
                if (failure is null)
                {
                    var listeners = runtime.Proxy.Listeners.Select(l => l.Name).ToList();
                    Log.Info($"upgrade: pid {pid} is accepting after {clock.Elapsed.TotalMilliseconds:0} ms; this process stops accepting and drains");
                    return new UpgradeResult(true, pid, null, clock.Elapsed, listeners);
                }
                Log.Error($"upgrade failed, this process keeps serving: {failure}");
                Kill(child);
                return UpgradeResult.Failed(pid, failure, clock.Elapsed);
            }
            catch (Exception e)
            {
                Log.Error($"upgrade failed, this process keeps serving: {e.Message}");
                Kill(child);
                return UpgradeResult.Failed(pid, e.Message, clock.Elapsed);
            }
            finally
            {
                child.Dispose();
            }
        }
    }

    private static Process Start(string fileName, List<string> arguments, int childFd)
    {
        var info = new ProcessStartInfo(fileName) { UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment[UpgradeChannel.EnvironmentVariable] = childFd.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Only this descriptor crosses exec (everything else .NET opens is close-on-exec); no other thread starts processes.
        FdPassing.Inherit(childFd);
        return Process.Start(info) ?? throw new InvalidOperationException("Process.Start returned nothing");
    }

    /// <summary>Runs steps 1-4 on a blocking thread; null when the new process is ready, else why not.</summary>
    private string? HandOff(UpgradeChannel channel, Process child, long deadline)
    {
        var sockets = runtime.Proxy.HandOverSockets();
        var admin = runtime.Admin?.ListenHandle;
        var handles = new List<SafeHandle>();
        var fds = new List<int>();
        try
        {
            foreach (var (_, socket) in sockets) fds.Add(AddRef(socket, handles));
            if (admin is not null) fds.Add(AddRef(admin, handles));
            SendHandoff(channel, sockets, admin is not null, fds);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            // EPIPE: the new process is gone already (it failed at start).
            return Gone(child) ?? $"cannot hand over to pid {child.Id}: {e.Message}";
        }
        finally
        {
            foreach (var h in handles) h.DangerousRelease();
        }
        Log.Info($"upgrade: handed {fds.Count} socket(s) ({string.Join(", ", sockets.Select(s => s.Config.Name))}) and the runtime state to pid {child.Id}");

        var prepared = Expect(channel, child, deadline, "prepared");
        if (prepared is not null) return prepared;
        try
        {
            channel.Send(w => w.WriteString("type", "commit"));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            return Gone(child) ?? $"cannot commit the hand-off to pid {child.Id}: {e.Message}";
        }
        return Expect(channel, child, deadline, "ready");
    }

    /// <summary>Why the new process is gone ("exited (code N) before it was ready"), or null when it still runs.</summary>
    private static string? Gone(Process child) =>
        child.WaitForExit(2000)
            ? $"new process (pid {child.Id}) exited (code {child.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)}) before it was ready"
            : null;

    private void SendHandoff(UpgradeChannel channel, IReadOnlyList<(ListenerConfig Config, SafeHandle Socket)> sockets, bool withAdmin, List<int> fds)
    {
        channel.Send(w =>
        {
            w.WriteString("type", "handoff");
            w.WriteStartObject("from");
            runtime.Generation.Write(w);
            w.WriteEndObject();
            w.WriteStartArray("listeners");
            for (var i = 0; i < sockets.Count; i++)
            {
                var config = sockets[i].Config;
                w.WriteStartObject();
                w.WriteString("name", config.Name);
                w.WriteString("bind", config.Bind.ToString());
                w.WriteString("protocol", config.Protocol == ListenerProtocol.Tcp ? "tcp" : "http");
                w.WriteStartArray("fds"); // one socket per listener today; a list so SO_REUSEPORT groups fit
                w.WriteNumberValue(i);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (withAdmin && runtime.Controller.Config?.Admin.Listen is { } adminBind)
            {
                w.WriteStartObject("admin");
                w.WriteString("bind", adminBind.ToString());
                w.WriteNumber("fd", sockets.Count);
                w.WriteEndObject();
            }
            w.WritePropertyName("state");
            runtime.WriteUpgradeState(w);
        }, fds);
    }

    private static int AddRef(SafeHandle handle, List<SafeHandle> held)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        if (added) held.Add(handle);
        return (int)handle.DangerousGetHandle();
    }

    /// <summary>Waits for a message of <paramref name="type"/>; null when it came, else the reason it did not.</summary>
    private string? Expect(UpgradeChannel channel, Process child, long deadline, string type)
    {
        var left = TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
        UpgradeMessage? message;
        try
        {
            message = channel.Receive(left);
        }
        catch (TimeoutException)
        {
            return $"new process (pid {child.Id}) was not ready within upgrade_timeout ({timeout.TotalSeconds:0.###}s); it was killed";
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or JsonException)
        {
            // A child that exited with our hand-off unread resets the channel: name the exit, not the reset.
            return Gone(child) ?? $"hand-off channel to pid {child.Id} failed: {e.Message}";
        }
        if (message is null) return Gone(child) ?? $"new process (pid {child.Id}) closed the hand-off channel before it was ready";
        using (message)
        {
            foreach (var fd in message.Fds) FdPassing.Close(fd);
            if (message.Type == type) return null;
            if (message.Type == "failed") return $"new process (pid {child.Id}) failed: {message.Root.GetProperty("error").GetString()}";
            return $"new process (pid {child.Id}) sent '{message.Type}' where '{type}' was expected";
        }
    }

    private static void Kill(Process child)
    {
        try
        {
            if (child.HasExited) return;
            child.Kill(entireProcessTree: true);
            child.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }
}
