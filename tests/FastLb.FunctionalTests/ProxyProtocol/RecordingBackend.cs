using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.ProxyProtocol;

/// <summary>
/// A backend that records every byte of every connection (a PROXY header included) and answers each HTTP request
/// head it sees with a small 200, so it serves both a tcp relay and an http listener.
/// </summary>
internal sealed class RecordingBackend : IAsyncDisposable
{
    private readonly LoopbackBackend _server;
    private readonly ConcurrentQueue<MemoryStream> _connections = new();

    private RecordingBackend() => _server = LoopbackBackend.Start("recording", ServeAsync);

    public IPEndPoint EndPoint => _server.EndPoint;

    public static RecordingBackend Start() => new();

    /// <summary>What each connection received so far, in accept order.</summary>
    public List<byte[]> Received
    {
        get
        {
            var result = new List<byte[]>();
            foreach (var c in _connections)
            {
                lock (c) result.Add(c.ToArray());
            }
            return result;
        }
    }

    /// <summary>Complete request heads received so far, over every connection (a pooled connection may carry several).</summary>
    public int RequestCount => Received.Sum(r => CountHeads(Encoding.Latin1.GetString(r)));

    private async Task ServeAsync(Socket socket, CancellationToken ct)
    {
        var record = new MemoryStream();
        _connections.Enqueue(record);
        var buffer = new byte[16384];
        var answered = 0;
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return;
            }
            if (n == 0) return;
            string text;
            lock (record)
            {
                record.Write(buffer, 0, n);
                text = Encoding.Latin1.GetString(record.GetBuffer(), 0, (int)record.Length);
            }
            var heads = CountHeads(text);
            for (; answered < heads; answered++)
            {
                await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), SocketFlags.None, ct);
            }
        }
    }

    private static int CountHeads(string text)
    {
        var count = 0;
        for (var i = text.IndexOf("HTTP/1.1\r\n", StringComparison.Ordinal); i >= 0; i = text.IndexOf("HTTP/1.1\r\n", i + 1, StringComparison.Ordinal))
        {
            if (text.IndexOf("\r\n\r\n", i, StringComparison.Ordinal) < 0) break;
            count++;
        }
        return count;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
