using System.Net.Sockets;
using System.Text;

namespace FastLb.FunctionalTests.Http;

/// <summary>Socket helpers for backends scripted inline by a test.</summary>
internal static class ScriptedBackend
{
    /// <summary>Reads one request head byte by byte (nothing past it); null on FIN before any byte.</summary>
    public static async Task<string?> ReadHeadAsync(Socket socket, CancellationToken ct)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(one, SocketFlags.None, ct);
            if (n == 0) return head.Length == 0 ? null : throw new EndOfStreamException("closed inside a head");
            head.Append((char)one[0]);
        }
        return head.ToString();
    }

    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (n == 0) throw new EndOfStreamException();
            read += n;
        }
        return buffer;
    }

    public static Task SendAsync(Socket socket, string text, CancellationToken ct) =>
        socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, ct).AsTask();
}
