using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.FunctionalTests.Host;

/// <summary>One HTTP/1.1 request on a fresh connection (Connection: close); returns the x-backend that answered.</summary>
internal static class HttpOnce
{
    public static async Task<string> GetBackendAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint, cts.Token);
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, cts.Token);
        var response = await ReadToEndAsync(socket, cts.Token);
        return BackendOf(response) ?? throw new InvalidOperationException($"no x-backend in response: '{response}'");
    }

    public static async Task<string> ReadToEndAsync(Socket socket, CancellationToken ct)
    {
        var sb = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0) return sb.ToString();
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    public static string? BackendOf(string response)
    {
        foreach (var line in response.Split("\r\n"))
        {
            if (line.StartsWith("x-backend:", StringComparison.OrdinalIgnoreCase)) return line["x-backend:".Length..].Trim();
        }
        return null;
    }
}
