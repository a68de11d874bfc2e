using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>A raw TCP client for functional tests: exact reads, FIN (<see cref="ShutdownSend"/>) and RST (<see cref="Reset"/>).</summary>
internal sealed class TestClient : IAsyncDisposable
{
    private TestClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static async Task<TestClient> ConnectAsync(IPEndPoint endPoint, CancellationToken ct = default)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
            return new TestClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        while (!data.IsEmpty)
        {
            var n = await Socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[n..];
        }
    }

    public Task SendAsync(string text, CancellationToken ct = default) => SendAsync(Encoding.UTF8.GetBytes(text), ct);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) =>
        Socket.ReceiveAsync(buffer, SocketFlags.None, ct);

    /// <summary>Reads exactly <paramref name="count"/> bytes; throws <see cref="EndOfStreamException"/> on an early FIN.</summary>
    public async Task<byte[]> ReceiveExactlyAsync(int count, CancellationToken ct = default)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await Socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new EndOfStreamException($"connection closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    public async Task<string> ReceiveStringAsync(int byteCount, CancellationToken ct = default) =>
        Encoding.UTF8.GetString(await ReceiveExactlyAsync(byteCount, ct).ConfigureAwait(false));

    /// <summary>Reads until the peer's FIN; a reset surfaces as <see cref="SocketException"/>.</summary>
    public async Task<byte[]> ReadToEndAsync(CancellationToken ct = default)
    {
        using var all = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return all.ToArray();
            all.Write(buffer, 0, n);
        }
    }

    public async Task<string> ReadStringToEndAsync(CancellationToken ct = default) =>
        Encoding.UTF8.GetString(await ReadToEndAsync(ct).ConfigureAwait(false));

    /// <summary>Sends FIN: we are done writing, reading goes on.</summary>
    public void ShutdownSend() => Socket.Shutdown(SocketShutdown.Send);

    /// <summary>Closes with RST (linger 0).</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
