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
    private int _disposed;

    public string Path { get; } = path;

    public void Start()
    {
        RemoveStaleSocket();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Create the socket file 0600 from the start: a umask of 0177 leaves no window where others may connect.
        var oldMask = Umask(0b001_111_111);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(Path));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            Umask(oldMask);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        socket.Listen(16);
        _listener = socket;
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
            var reply = await handler.HandleAsync(line).ConfigureAwait(false);
            await SendLineAsync(client, reply).ConfigureAwait(false);
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
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
