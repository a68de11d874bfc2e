using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>Just enough HTTP/1.1 request parsing for a test backend: head, Content-Length or chunked body.</summary>
internal sealed class HttpRequestReader(Socket socket)
{
    private const int MaxHead = 64 * 1024;
    private readonly byte[] _buffer = new byte[MaxHead];
    private int _start;
    private int _end;

    internal readonly record struct Request(string Method, string Target, bool Close, bool IsHead, string Head);

    /// <summary>Reads one request (consuming its body, copied to <paramref name="body"/> when given); null on a clean FIN between requests.</summary>
    public async Task<Request?> ReadRequestAsync(CancellationToken ct, Stream? body = null)
    {
        var headEnd = await FindAsync("\r\n\r\n"u8.ToArray(), ct).ConfigureAwait(false);
        if (headEnd < 0) return null;
        var head = Encoding.ASCII.GetString(_buffer, _start, headEnd - _start);
        _start = headEnd + 4;

        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var method = requestLine[0];
        var version = requestLine.Length > 2 ? requestLine[2] : "HTTP/1.1";
        long contentLength = 0;
        var chunked = false;
        var close = version == "HTTP/1.0";
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':');
            if (colon <= 0) continue;
            var name = lines[i][..colon].Trim();
            var value = lines[i][(colon + 1)..].Trim();
            if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase)) contentLength = long.Parse(value);
            else if (name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)) chunked = value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            else if (name.Equals("connection", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Contains("close", StringComparison.OrdinalIgnoreCase)) close = true;
                else if (value.Contains("keep-alive", StringComparison.OrdinalIgnoreCase)) close = false;
            }
        }

        if (chunked)
        {
            while (true)
            {
                var lineEnd = await FindAsync("\r\n"u8.ToArray(), ct).ConfigureAwait(false);
                if (lineEnd < 0) throw new EndOfStreamException("connection closed inside a chunked body");
                var sizeText = Encoding.ASCII.GetString(_buffer, _start, lineEnd - _start).Split(';')[0].Trim();
                _start = lineEnd + 2;
                var size = Convert.ToInt64(sizeText, 16);
                if (size == 0)
                {
                    // Trailers end with an empty line.
                    while (true)
                    {
                        var trailerEnd = await FindAsync("\r\n"u8.ToArray(), ct).ConfigureAwait(false);
                        if (trailerEnd < 0) throw new EndOfStreamException("connection closed inside trailers");
                        var empty = trailerEnd == _start;
                        _start = trailerEnd + 2;
                        if (empty) break;
                    }
                    break;
                }
                await SkipAsync(size, ct, body).ConfigureAwait(false);
                await SkipAsync(2, ct).ConfigureAwait(false);
            }
        }
        else
        {
            await SkipAsync(contentLength, ct, body).ConfigureAwait(false);
        }
        return new Request(method, requestLine.Length > 1 ? requestLine[1] : "/", close, method == "HEAD", head);
    }

    private async Task<int> FindAsync(byte[] marker, CancellationToken ct)
    {
        var scanned = 0; // bytes after _start already searched without a match; survives compaction
        while (true)
        {
            var at = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf(marker);
            if (at >= 0) return _start + scanned + at;
            scanned = Math.Max(0, _end - _start - marker.Length + 1);
            if (!await FillAsync(ct).ConfigureAwait(false))
            {
                if (_end == _start) return -1;
                throw new EndOfStreamException("connection closed inside a request head");
            }
        }
    }

    private async Task SkipAsync(long count, CancellationToken ct, Stream? copy = null)
    {
        while (count > 0)
        {
            if (_end == _start && !await FillAsync(ct).ConfigureAwait(false)) throw new EndOfStreamException("connection closed inside a body");
            var take = (int)Math.Min(count, _end - _start);
            copy?.Write(_buffer, _start, take);
            _start += take;
            count -= take;
        }
    }

    /// <summary>Reads more bytes, compacting first; false on FIN.</summary>
    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) throw new InvalidDataException("request head too large");
        var n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
        if (n == 0) return false;
        _end += n;
        return true;
    }
}
