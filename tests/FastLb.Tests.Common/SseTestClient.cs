using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>
/// A client for streamed responses: sends a request, reads the response head, then hands out the server-sent events
/// of a chunked body one at a time as they arrive, so a test sees whether each event was forwarded on its own.
/// </summary>
internal sealed class SseTestClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly StringBuilder _events = new(); // decoded body text not yet handed out
    private int _start;
    private int _end;
    private bool _bodyDone;

    private SseTestClient(Socket socket) => _socket = socket;

    /// <summary>The response head's status.</summary>
    public int Status { get; private set; }

    /// <summary>Response header fields, names lower-case.</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public static async Task<SseTestClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint).ConfigureAwait(false);
        return new SseTestClient(socket);
    }

    /// <summary>Sends a chat completion POST with <paramref name="json"/> and reads the response head.</summary>
    public async Task PostAsync(string json, string extraHeaders = "")
    {
        var body = Encoding.UTF8.GetBytes(json);
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\n{extraHeaders}Content-Length: {body.Length}\r\n\r\n";
        await _socket.SendAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray(), SocketFlags.None).ConfigureAwait(false);
        var headEnd = await FindAsync("\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
        var lines = Encoding.ASCII.GetString(_buffer, _start, headEnd - _start).Split("\r\n");
        _start = headEnd + 4;
        Status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0) Headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
    }

    /// <summary>The next event's data (the text after <c>data: </c>), or null when the body ended.</summary>
    public async Task<string?> ReadEventAsync()
    {
        while (true)
        {
            var text = _events.ToString();
            var end = text.IndexOf("\n\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                _events.Remove(0, end + 2);
                var line = text[..end];
                return line.StartsWith("data: ", StringComparison.Ordinal) ? line[6..] : line;
            }
            if (_bodyDone || !await ReadChunkAsync().ConfigureAwait(false)) return null;
        }
    }

    /// <summary>Reads one chunk of the body into the event text; false at the last chunk.</summary>
    private async Task<bool> ReadChunkAsync()
    {
        var lineEnd = await FindAsync("\r\n"u8.ToArray()).ConfigureAwait(false);
        var size = Convert.ToInt32(Encoding.ASCII.GetString(_buffer, _start, lineEnd - _start).Split(';')[0].Trim(), 16);
        _start = lineEnd + 2;
        if (size == 0)
        {
            _bodyDone = true;
            return false;
        }
        while (_end - _start < size + 2)
        {
            if (!await FillAsync().ConfigureAwait(false)) throw new EndOfStreamException("closed inside a chunk");
        }
        _events.Append(Encoding.UTF8.GetString(_buffer, _start, size));
        _start += size + 2;
        return true;
    }

    private async Task<int> FindAsync(byte[] marker)
    {
        while (true)
        {
            var at = _buffer.AsSpan(_start, _end - _start).IndexOf(marker);
            if (at >= 0) return _start + at;
            if (!await FillAsync().ConfigureAwait(false)) throw new EndOfStreamException("closed before " + Encoding.ASCII.GetString(marker).Replace("\r\n", "CRLF", StringComparison.Ordinal));
        }
    }

    private async Task<bool> FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        var n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None).ConfigureAwait(false);
        _end += n;
        return n > 0;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
