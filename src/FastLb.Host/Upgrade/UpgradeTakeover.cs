using System.Net.Sockets;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Proxy;

namespace FastLb.Host.Upgrade;

/// <summary>
/// The new process's side of an upgrade (see <see cref="UpgradeCoordinator"/> for the protocol): the sockets and state
/// received from the old process, and the steps that tell it how far this process got.
/// </summary>
internal sealed class UpgradeTakeover : IDisposable
{
    private static readonly TimeSpan HandoffTimeout = TimeSpan.FromSeconds(30);
    private readonly UpgradeChannel _channel;
    private readonly UpgradeMessage _handoff;
    private Socket? _admin;

    private UpgradeTakeover(UpgradeChannel channel, UpgradeMessage handoff)
    {
        _channel = channel;
        _handoff = handoff;
        Previous = ProcessGeneration.Read(handoff.Root.GetProperty("from"));
        var fds = handoff.Fds;
        foreach (var l in handoff.Root.GetProperty("listeners").EnumerateArray())
        {
            var protocol = l.GetProperty("protocol").GetString() == "tcp" ? ListenerProtocol.Tcp : ListenerProtocol.Http;
            foreach (var index in l.GetProperty("fds").EnumerateArray())
            {
                Listeners.Add(new InheritedListener(l.GetProperty("name").GetString()!, l.GetProperty("bind").GetString()!, protocol, Wrap(fds[index.GetInt32()])));
            }
        }
        if (handoff.Root.TryGetProperty("admin", out var admin))
        {
            AdminBind = admin.GetProperty("bind").GetString();
            _admin = Wrap(fds[admin.GetProperty("fd").GetInt32()]);
        }
    }

    /// <summary>The process handing over.</summary>
    public ProcessGeneration Previous { get; }

    /// <summary>Listening sockets not yet taken by a listener of this process.</summary>
    public List<InheritedListener> Listeners { get; } = [];

    /// <summary>The admin HTTP bind of the old process's config, when it had one.</summary>
    public string? AdminBind { get; }

    /// <summary>The state document (<see cref="FastLbRuntime.WriteUpgradeState"/>).</summary>
    public JsonElement State => _handoff.Root.GetProperty("state");

    /// <summary>Waits for the old process's hand-off on the inherited channel.</summary>
    public static UpgradeTakeover Receive(UpgradeChannel channel)
    {
        var message = channel.Receive(HandoffTimeout) ?? throw new IOException("the previous process closed the hand-off channel before sending anything");
        if (message.Type != "handoff")
        {
            message.Dispose();
            throw new IOException($"expected a hand-off, got '{message.Type}'");
        }
        return new UpgradeTakeover(channel, message);
    }

    /// <summary>The admin socket, when the new config binds admin HTTP at the same address; the caller owns it then.</summary>
    public Socket? TakeAdmin(string? bind)
    {
        if (bind is null || bind != AdminBind) return null;
        var socket = _admin;
        _admin = null;
        return socket;
    }

    /// <summary>Tells the old process this one cannot take over, and why.</summary>
    public void Fail(string error)
    {
        try
        {
            _channel.Send(w =>
            {
                w.WriteString("type", "failed");
                w.WriteString("error", error);
            });
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            Log.Warn($"upgrade: cannot tell pid {Previous.Pid} why: {e.Message}");
        }
    }

    /// <summary>
    /// Step 2 and 3: reports that everything is in place, then waits for the old process's commit. False when it
    /// gave up on this process (timeout) or went away: this process must exit without having accepted anything.
    /// </summary>
    public async Task<bool> PrepareAsync()
    {
        RunTestHook();
        _channel.Send(w =>
        {
            w.WriteString("type", "prepared");
            w.WriteNumber("pid", Environment.ProcessId);
        });
        UpgradeMessage? commit;
        try
        {
            commit = await Task.Run(() => _channel.Receive(HandoffTimeout)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or SocketException)
        {
            Log.Error($"upgrade: no commit from pid {Previous.Pid}: {e.Message}");
            return false;
        }
        if (commit is null)
        {
            Log.Error($"upgrade: pid {Previous.Pid} went away before committing the hand-off");
            return false;
        }
        using (commit) return commit.Type == "commit";
    }

    /// <summary>Step 4: this process accepts on every listener; the old one may stop accepting.</summary>
    public void Ready(IEnumerable<string> listeners)
    {
        foreach (var unused in Listeners)
        {
            // The old process closes its copy once it stops accepting: then the socket is gone, as a reload removing it would do.
            Log.Info($"upgrade: listener '{unused.Name}' ({unused.Bind}) is not in this config; closing it");
            unused.Socket.Dispose();
        }
        Listeners.Clear();
        _channel.Send(w =>
        {
            w.WriteString("type", "ready");
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteStartArray("listeners");
            foreach (var l in listeners) w.WriteStringValue(l);
            w.WriteEndArray();
        });
    }

    private static void RunTestHook()
    {
        switch (Environment.GetEnvironmentVariable(UpgradeCoordinator.TestHookVariable))
        {
            case "exit-before-ready":
                Log.Warn($"{UpgradeCoordinator.TestHookVariable}=exit-before-ready: exiting with code 1");
                Environment.Exit(1);
                break;
            case "hang-before-ready":
                Log.Warn($"{UpgradeCoordinator.TestHookVariable}=hang-before-ready: hanging until killed");
                Thread.Sleep(Timeout.Infinite);
                break;
        }
    }

    private static Socket Wrap(int fd) => new(new SafeSocketHandle(fd, ownsHandle: true));

    public void Dispose()
    {
        foreach (var l in Listeners) l.Socket.Dispose();
        Listeners.Clear();
        _admin?.Dispose();
        _handoff.Dispose();
        _channel.Dispose();
    }
}
