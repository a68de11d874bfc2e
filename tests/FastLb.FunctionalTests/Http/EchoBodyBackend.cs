using System.Net.Sockets;
using System.Text;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Http;

/// <summary>An HTTP backend that answers each request with the decoded request body and how it was framed (<c>x-framing</c>, <c>x-content-length</c>).</summary>
internal static class EchoBodyBackend
{
    public static LoopbackBackend Start() => Start("echo");

    /// <summary>An echo backend that also names itself in <c>x-backend</c>.</summary>
    public static LoopbackBackend Start(string name) => LoopbackBackend.Start(name, (socket, ct) => ServeAsync(socket, name, ct));

    private static async Task ServeAsync(Socket socket, string name, CancellationToken ct)
    {
        var buffer = new List<byte>();
        var chunk = new byte[16 * 1024];
        async Task<bool> Fill()
        {
            var n = await socket.ReceiveAsync(chunk, SocketFlags.None, ct);
            if (n == 0) return false;
            buffer.AddRange(chunk.AsSpan(0, n));
            return true;
        }
        async Task<int> Find(string marker, int from)
        {
            var m = Encoding.ASCII.GetBytes(marker);
            while (true)
            {
                var at = System.MemoryExtensions.IndexOf(buffer.ToArray().AsSpan(from), m);
                if (at >= 0) return from + at;
                if (!await Fill()) return -1;
            }
        }
        async Task<byte[]> Take(int count)
        {
            while (buffer.Count < count)
            {
                if (!await Fill()) throw new EndOfStreamException();
            }
            var taken = buffer.GetRange(0, count).ToArray();
            buffer.RemoveRange(0, count);
            return taken;
        }

        while (true)
        {
            var headEnd = await Find("\r\n\r\n", 0);
            if (headEnd < 0) return;
            var head = Encoding.ASCII.GetString(await Take(headEnd + 4));
            var lines = head.Split("\r\n");
            string framing = "none";
            var body = new MemoryStream();
            var cl = lines.FirstOrDefault(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase));
            if (lines.Any(l => l.Equals("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase)))
            {
                framing = "chunked";
                while (true)
                {
                    var lineEnd = await Find("\r\n", 0);
                    var size = Convert.ToInt32(Encoding.ASCII.GetString(await Take(lineEnd + 2)).Trim().Split(';')[0], 16);
                    if (size == 0)
                    {
                        await Take(await Find("\r\n", 0) + 2);
                        break;
                    }
                    body.Write(await Take(size));
                    await Take(2);
                }
            }
            else if (cl is not null)
            {
                framing = "content-length";
                body.Write(await Take(int.Parse(cl[15..].Trim())));
            }
            var data = body.ToArray();
            var response = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nx-backend: {name}\r\nx-framing: {framing}\r\nx-content-length: {cl?[15..].Trim() ?? "none"}\r\nContent-Length: {data.Length}\r\n\r\n");
            await socket.SendAsync(response.Concat(data).ToArray(), SocketFlags.None, ct);
        }
    }
}
