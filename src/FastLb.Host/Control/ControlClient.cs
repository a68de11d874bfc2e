using System.Net.Sockets;
using System.Text;

namespace FastLb.Host.Control;

/// <summary>Sends one command line to a control socket and returns the one-line JSON reply.</summary>
internal static class ControlClient
{
    public static async Task<string> SendAsync(string socketPath, string command, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token).ConfigureAwait(false);
        var request = Encoding.UTF8.GetBytes(command + "\n");
        await socket.SendAsync(request, SocketFlags.None, cts.Token).ConfigureAwait(false);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
            if (n == 0) break;
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, n);
            received.Write(buffer, 0, newline < 0 ? n : newline);
            if (newline >= 0) break;
        }
        return Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
    }
}
