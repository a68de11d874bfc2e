using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>The backend side of one upstream connection, as a responder sees it.</summary>
internal sealed class BackendConnection(Socket socket, BufferedSocketReader reader, int index, string backend)
{
    public Socket Socket { get; } = socket;
    public BufferedSocketReader Reader { get; } = reader;

    /// <summary>1-based accept order on its backend.</summary>
    public int Index { get; } = index;

    /// <summary>The name of the backend that accepted the connection.</summary>
    public string Backend { get; } = backend;

    /// <summary>Requests received on this connection so far, the one being answered included.</summary>
    public int Requests { get; set; }

    public Task SendAsync(string latin1, CancellationToken ct) => SendAsync(Encoding.Latin1.GetBytes(latin1), ct);

    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            var n = await Socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Echoes raw bytes (buffered ones first) until FIN, then sends FIN.</summary>
    public async Task EchoUntilFinAsync(CancellationToken ct)
    {
        while (true)
        {
            var bytes = await Reader.ReadSomeAsync(ct).ConfigureAwait(false);
            if (bytes.Length == 0) break;
            await SendAsync(bytes, ct).ConfigureAwait(false);
        }
        Socket.Shutdown(SocketShutdown.Send);
    }
}
