using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using FastLb.Core.Diagnostics;

namespace FastLb.Host.Control;

/// <summary>
/// The control socket: a Unix domain socket created mode 0600, one command per line, one JSON reply per line.
/// Lines are bounded (<see cref="MaxLineBytes"/>) and so is the number of clients served at once.
/// </summary>
internal sealed partial class ControlServer(string path, ControlCommandHandler handler) : IDisposable
{
    public const int MaxLineBytes = 4096;
    public const int MaxClients = 16;
    private static readonly TimeSpan ClientIdleTimeout = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private string? _ownedPath; // the file this server created and still owns; removed on dispose
    private int _disposed;
    private int _replying; // commands read whose reply is not sent yet

    public string Path { get; } = path;

    /// <summary>Creates the socket at <see cref="Path"/> (removing a leftover nobody listens on) and serves it.</summary>
    public void Start()
    {
        RemoveStaleSocket();
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
        if (File.Exists(temporary)) File.Delete(temporary); // a leftover of a start or upgrade that died half-way
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
        // Create the socket file 0600 from the start: a umask of 0177 leaves no window where others may connect.
        var oldMask = Umask(0b001_111_111);
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
            _ = Umask(oldMask); // umask always succeeds; the return value is the mask it replaced
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        socket.Listen(16);
        _listener = socket;
        _ownedPath = path;
        _ = new BoundedAcceptLoop("control socket", MaxClients, ServeAsync, RefuseAsync).RunAsync(socket, _stop.Token);
    }

    private void RemoveStaleSocket()
    {
        if (!File.Exists(Path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(Path));
        }
        catch (SocketException)
        {
            File.Delete(Path); // nobody listens: a leftover of a crashed process
            return;
        }
        throw new IOException($"another process is already listening on {Path}");
    }

    private static Task RefuseAsync(Socket client) =>
        SendLineAsync(client, ControlCommandHandler.Error($"too many control clients (at most {MaxClients})"));

    private async Task ServeAsync(Socket client)
    {
        var buffer = new byte[MaxLineBytes + 1];
        var filled = 0;
        while (!_stop.IsCancellationRequested)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
            if (newline < 0)
            {
                if (filled > MaxLineBytes)
                {
                    await SendLineAsync(client, ControlCommandHandler.Error($"command line longer than {MaxLineBytes} bytes")).ConfigureAwait(false);
                    return;
                }
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                idle.CancelAfter(ClientIdleTimeout);
                var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token).ConfigureAwait(false);
                if (n == 0) return;
                filled += n;
                continue;
            }
            var line = Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
            filled -= newline + 1;
            Buffer.BlockCopy(buffer, newline + 1, buffer, 0, filled);
            Interlocked.Increment(ref _replying);
            try
            {
                var reply = await handler.HandleAsync(line).ConfigureAwait(false);
                await SendLineAsync(client, reply).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _replying);
            }
        }
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
}
