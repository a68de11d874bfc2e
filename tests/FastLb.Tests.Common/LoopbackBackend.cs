using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>A backend on 127.0.0.1:0 for functional tests: echo, name-then-echo, or a custom handler per connection.</summary>
internal sealed class LoopbackBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly Task _acceptLoop;
    private int _accepted;

    private LoopbackBackend(string name, Func<Socket, CancellationToken, Task> handler)
    {
        Name = name;
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public string Name { get; }
    public IPEndPoint EndPoint { get; }

    /// <summary>Connections accepted so far.</summary>
    public int AcceptedConnections => Volatile.Read(ref _accepted);

    public static LoopbackBackend Start(LoopbackBackendMode mode, string name = "backend")
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        return mode == LoopbackBackendMode.Echo
            ? new LoopbackBackend(name, EchoAsync)
            : new LoopbackBackend(name, async (s, ct) =>
            {
                await s.SendAsync(nameBytes, SocketFlags.None, ct).ConfigureAwait(false);
                await EchoAsync(s, ct).ConfigureAwait(false);
            });
    }

    /// <summary>Runs <paramref name="handler"/> for each accepted socket; the backend closes the socket afterwards.</summary>
    public static LoopbackBackend Start(string name, Func<Socket, CancellationToken, Task> handler) => new(name, handler);

    /// <summary>
    /// A loopback port that refuses connections for the rest of the test run: the socket stays bound but never
    /// listens, so the kernel answers SYNs with RST and no parallel test can bind the port in the meantime
    /// (closing the probe at once let a concurrent listener take the port and made refusal tests flaky).
    /// </summary>
    public static IPEndPoint ClosedPort()
    {
        var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ReservedPorts.Add(probe); // a handful per run; released when the test process exits
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    private static readonly ConcurrentBag<Socket> ReservedPorts = [];

    /// <summary>Stops listening: new connects are refused; connections already accepted go on.</summary>
    public void StopListening() => _listener.Dispose();

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            socket.NoDelay = true;
            _connections[socket] = RunAsync(socket);
        }
    }

    private async Task RunAsync(Socket socket)
    {
        await Task.Yield();
        try
        {
            await _handler(socket, _stop.Token).ConfigureAwait(false);
        }
        catch
        {
            // Resets and disposal are part of what tests provoke.
        }
        finally
        {
            socket.Dispose();
            _connections.TryRemove(socket, out _);
        }
    }

    /// <summary>Echoes until the peer's FIN, then sends FIN back.</summary>
    public static async Task EchoAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct).ConfigureAwait(false);
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    public ValueTask DisposeAsync() => LoopbackServerShutdown.StopAsync(_stop, _listener, _connections, _acceptLoop);
}
