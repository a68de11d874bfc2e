using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using FastLb.Core.Diagnostics;

namespace FastLb.Host.Control;

/// <summary>
/// The control socket: a Unix domain socket created mode 0600, one command per line, one JSON reply per line. Or,
/// made with <see cref="ForStatus"/>, the read-only status socket (mode 0660, optionally for a group) that answers
/// status, stats and events only.
/// </summary>
/// <remarks>
/// Lines are bounded (<see cref="MaxLineBytes"/>) and each must arrive within <see cref="CommandDeadline"/> of the
/// connection or of the previous reply, however it trickles in, so idle clients cannot hold the slots. Slots are
/// limited per peer uid (SO_PEERCRED) with a reserve for root and the process's own user (<see cref="ControlClientSlots"/>).
/// On the control socket only root and the process's user are served, and every command that changes state is logged
/// with the peer's uid and pid.
/// </remarks>
internal sealed partial class ControlServer : IDisposable
{
    public const int MaxLineBytes = 4096;

    /// <summary>How long a client has to send a whole command line, from connecting or from its previous reply.</summary>
    public static readonly TimeSpan CommandDeadline = TimeSpan.FromSeconds(2);

    /// <summary>What the read-only status socket answers.</summary>
    public static readonly string[] ReadOnlyCommands = ["status", "stats", "history", "events"];

    private readonly ControlCommandHandler _handler;
    private readonly bool _readOnly;
    private readonly UnixFileMode _mode;
    private readonly int? _group;
    private readonly int _ownerUid = (int)Geteuid();
    private readonly ControlClientSlots _slots;
    private readonly CancellationTokenSource _stop = new();
    private CancellationTokenSource? _serving; // stops the accept loop of the socket now served
    private Socket? _listener;
    private string? _ownedPath; // the file this server created and still owns; removed on dispose
    private ulong _inode;       // the socket file's inode once at Path: a reload tells whether it is still ours
    private int _disposed;
    private int _replying; // commands read whose reply is not sent yet

    /// <summary>The control socket at <paramref name="path"/>: every command, root and this process's user only, mode 0600.</summary>
    public ControlServer(string path, ControlCommandHandler handler)
        : this(path, handler, readOnly: false, UnixFileMode.UserRead | UnixFileMode.UserWrite, group: null)
    {
    }

    private ControlServer(string path, ControlCommandHandler handler, bool readOnly, UnixFileMode mode, int? group)
    {
        Path = path;
        _handler = handler;
        _readOnly = readOnly;
        _mode = mode;
        _group = group;
        _slots = new ControlClientSlots(_ownerUid);
    }

    /// <summary>The read-only status socket at <paramref name="path"/>: mode 0660, given to <paramref name="group"/> when set.</summary>
    public static ControlServer ForStatus(string path, ControlCommandHandler handler, int? group) =>
        new(path, handler, readOnly: true,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, group);

    public string Path { get; }

    /// <summary>"control socket" or "status socket", for log lines.</summary>
    public string What => _readOnly ? "status socket" : "control socket";

    /// <summary>
    /// Creates the socket at <see cref="Path"/> and serves it. A leftover socket nobody listens on is removed; a socket
    /// another process listens on, or a file that is not a socket, is left alone and <see cref="IOException"/> says why.
    /// </summary>
    public void Start()
    {
        UnixSocketFile.RemoveStale(Path);
        StartBeside();
        TakeOverPath();
    }

    /// <summary>
    /// Creates the socket beside <see cref="Path"/> and serves it there; <see cref="TakeOverPath"/> moves it into
    /// place. An upgrade does this while the old process still serves <see cref="Path"/>.
    /// </summary>
    /// <remarks>
    /// Binding under another name also keeps .NET from deleting <see cref="Path"/> when this socket closes (it removes
    /// the file a Unix socket was bound to): after an upgrade that file is the new process's socket.
    /// </remarks>
    public void StartBeside()
    {
        var temporary = Path + ".new";
        UnixSocketFile.RemoveStale(temporary); // a leftover of a start or upgrade that died half-way, never a live one
        Serve(temporary);
    }

    /// <summary>
    /// Renames the socket over <see cref="Path"/> in one step, so a client reaches the old process (if any) before
    /// and this one after, never nothing.
    /// </summary>
    public void TakeOverPath()
    {
        if (_ownedPath is null || _ownedPath == Path) return;
        File.Move(_ownedPath, Path, overwrite: true);
        _ownedPath = Path;
        UnixSocketFile.TryStat(Path, out _, out _inode);
    }

    /// <summary>
    /// Recreates the socket file when it was deleted (SIGHUP and reload call this); leaves alone a path that now holds
    /// another process's socket or another file. Returns what it did, for the log, or null when the file is in place.
    /// </summary>
    public string? EnsureSocketFile()
    {
        if (Volatile.Read(ref _disposed) != 0 || _ownedPath != Path) return null;
        if (UnixSocketFile.TryStat(Path, out var isSocket, out var inode))
        {
            if (inode == _inode) return null; // still ours
            if (!isSocket) return $"{What} {Path} was replaced by a file that is not a socket; left alone, {What} unreachable";
            if (UnixSocketFile.SomeoneListens(Path)) return $"{What} {Path} now belongs to another process; left alone, this one is unreachable there";
            File.Delete(Path); // a dead socket in our place
        }
        var old = _listener;
        var oldServing = _serving;
        StartBeside();
        TakeOverPath();
        oldServing?.Cancel();
        old?.Dispose();
        return $"{What} {Path} was gone; recreated it";
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until every command read has its reply sent: the upgrade command
    /// answers after the hand-off, and the process must not exit before that answer is out.
    /// </summary>
    public async Task WhenRepliesSentAsync(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Volatile.Read(ref _replying) > 0 && Environment.TickCount64 < deadline) await Task.Delay(10).ConfigureAwait(false);
    }

    /// <summary>Stops serving, leaving the socket file to the process that took it over (an upgrade). Idempotent.</summary>
    public void CloseForHandOver()
    {
        _ownedPath = null;
        Dispose();
    }

    private void Serve(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Create the socket file with its final mode from the start: the umask leaves no window where others may connect.
        var oldMask = Umask(_mode.HasFlag(UnixFileMode.GroupWrite) ? 0b000_001_111u : 0b001_111_111u);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            _ = Umask(oldMask);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, _mode);
        if (_group is { } gid) UnixSocketFile.SetGroup(path, gid);
        socket.Listen(16);
        _listener = socket;
        _ownedPath = path;
        var serving = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        _serving = serving;
        _ = new BoundedAcceptLoop(What, _slots.Capacity, ServeAsync, RefuseAsync).RunAsync(socket, serving.Token);
    }

    private Task RefuseAsync(Socket client) =>
        SendLineAsync(client, ControlCommandHandler.Error($"too many {What} clients (at most {_slots.Capacity})"));

    private async Task ServeAsync(Socket client)
    {
        var peer = PeerCredentials.Of(client);
        if (!_readOnly && peer.Uid != 0 && peer.Uid != _ownerUid)
        {
            await SendLineAsync(client, ControlCommandHandler.Error($"permission denied: uid {peer.Uid} may not use the control socket (root and uid {_ownerUid} may)")).ConfigureAwait(false);
            return;
        }
        if (_slots.TryEnter(peer.Uid) is { } refusal)
        {
            await SendLineAsync(client, ControlCommandHandler.Error(refusal)).ConfigureAwait(false);
            return;
        }
        try
        {
            await ServeLinesAsync(client, peer).ConfigureAwait(false);
        }
        finally
        {
            _slots.Leave(peer.Uid);
        }
    }

    private async Task ServeLinesAsync(Socket client, PeerCredentials peer)
    {
        var buffer = new byte[MaxLineBytes + 1];
        var filled = 0;
        while (!_stop.IsCancellationRequested)
        {
            // One deadline per command line: trickling bytes does not extend it.
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                deadline.CancelAfter(CommandDeadline);
                while (Array.IndexOf(buffer, (byte)'\n', 0, filled) < 0)
                {
                    if (filled > MaxLineBytes)
                    {
                        await SendLineAsync(client, ControlCommandHandler.Error($"command line longer than {MaxLineBytes} bytes")).ConfigureAwait(false);
                        return;
                    }
                    int n;
                    try
                    {
                        n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                        if (filled > 0)
                        {
                            await SendLineAsync(client, ControlCommandHandler.Error($"no complete command line within {CommandDeadline.TotalSeconds:0} s; closing")).ConfigureAwait(false);
                        }
                        return;
                    }
                    if (n == 0) return;
                    filled += n;
                }
            }
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
            var line = Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
            filled -= newline + 1;
            Buffer.BlockCopy(buffer, newline + 1, buffer, 0, filled);
            Interlocked.Increment(ref _replying);
            try
            {
                var reply = await AnswerAsync(line, peer).ConfigureAwait(false);
                await SendLineAsync(client, reply).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _replying);
            }
        }
    }

    private Task<string> AnswerAsync(string line, PeerCredentials peer)
    {
        var command = line.AsSpan().Trim();
        var space = command.IndexOfAny(' ', '\t');
        var name = (space < 0 ? command : command[..space]).ToString();
        if (_readOnly && Array.IndexOf(ReadOnlyCommands, name) < 0)
        {
            return Task.FromResult(ControlCommandHandler.Error(
                $"'{name}' is not allowed on the read-only status socket; it answers {string.Join(", ", ReadOnlyCommands)} only (changes go through the control socket)"));
        }
        if (ControlCommandHandler.ChangesState(name)) Log.Info($"control: '{line}' from uid {peer.Uid} pid {peer.Pid}");
        return _handler.HandleAsync(line);
    }

    private static async Task SendLineAsync(Socket client, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _listener?.Dispose();
        _serving?.Dispose();
        try
        {
            if (_ownedPath is { } owned) File.Delete(owned);
        }
        catch (IOException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint Geteuid();
}
