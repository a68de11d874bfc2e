using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace FastLb.FunctionalTests.Http;

/// <summary>A parsed response: status, headers (lower-case names) and body.</summary>
internal sealed record RawHttpResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>A keep-alive HTTP/1.1 client over one raw socket (or TLS over it): sends exact bytes, reads Content-Length or chunked responses.</summary>
internal sealed class RawHttpClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly SslStream? _ssl;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttpClient(Socket socket, SslStream? ssl = null)
    {
        _socket = socket;
        _ssl = ssl;
    }

    /// <summary>The TLS session of a client made by <see cref="ConnectTlsAsync"/> (the server's certificate, protocol, ALPN).</summary>
    public SslStream Ssl => _ssl ?? throw new InvalidOperationException("not a TLS client");

    /// <summary>Connects and runs the TLS client handshake with <paramref name="options"/>; bytes then go through TLS.</summary>
    public static async Task<RawHttpClient> ConnectTlsAsync(IPEndPoint endPoint, SslClientAuthenticationOptions options)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint).WaitAsync(Timeout);
            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
            try
            {
                await ssl.AuthenticateAsClientAsync(options).WaitAsync(Timeout);
            }
            catch
            {
                await ssl.DisposeAsync();
                throw;
            }
            return new RawHttpClient(socket, ssl);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task<RawHttpClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint).WaitAsync(Timeout);
        return new RawHttpClient(socket);
    }

    public async Task<RawHttpResponse> SendAsync(string request, byte[]? body = null)
    {
        await SendRawAsync(Encoding.ASCII.GetBytes(request));
        if (body is not null) await SendRawAsync(body);
        return await ReadResponseAsync();
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_ssl is not null)
            {
                await _ssl.WriteAsync(data).AsTask().WaitAsync(Timeout);
                return;
            }
            var n = await _socket.SendAsync(data, SocketFlags.None).AsTask().WaitAsync(Timeout);
            data = data[n..];
        }
    }

    public async Task<RawHttpResponse> ReadResponseAsync()
    {
        var headEnd = await FindAsync("\r\n\r\n"u8.ToArray());
        var head = Encoding.ASCII.GetString(_buffer, _start, headEnd - _start);
        _start = headEnd + 4;
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        using var body = new MemoryStream();
        if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var lineEnd = await FindAsync("\r\n"u8.ToArray());
                var size = Convert.ToInt32(Encoding.ASCII.GetString(_buffer, _start, lineEnd - _start).Split(';')[0], 16);
                _start = lineEnd + 2;
                if (size == 0)
                {
                    _start = await FindAsync("\r\n"u8.ToArray()) + 2; // no trailers expected
                    break;
                }
                await CopyAsync(body, size);
                _start = await FindAsync("\r\n"u8.ToArray()) + 2;
            }
        }
        else if (headers.TryGetValue("content-length", out var cl))
        {
            await CopyAsync(body, int.Parse(cl));
        }
        else if (status >= 200 && status != 204 && status != 304)
        {
            while (await FillAsync()) { }
            await CopyAsync(body, _end - _start);
        }
        return new RawHttpResponse(status, headers, body.ToArray());
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes (a tunnel's payload).</summary>
    public async Task<byte[]> ReceiveRawAsync(int count)
    {
        using var data = new MemoryStream();
        await CopyAsync(data, count);
        return data.ToArray();
    }

    /// <summary>True when the proxy closed the connection (FIN) with nothing more to read.</summary>
    public async Task<bool> IsClosedAsync() => _end == _start && !await FillAsync();

    private async Task CopyAsync(Stream to, int count)
    {
        while (count > 0)
        {
            if (_end == _start && !await FillAsync()) throw new EndOfStreamException("closed inside a body");
            var take = Math.Min(count, _end - _start);
            to.Write(_buffer, _start, take);
            _start += take;
            count -= take;
        }
    }

    private async Task<int> FindAsync(byte[] marker)
    {
        while (true)
        {
            var at = _buffer.AsSpan(_start, _end - _start).IndexOf(marker);
            if (at >= 0) return _start + at;
            if (!await FillAsync()) throw new EndOfStreamException("connection closed before the response ended");
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
        var n = _ssl is not null
            ? await _ssl.ReadAsync(_buffer.AsMemory(_end)).AsTask().WaitAsync(Timeout)
            : await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None).AsTask().WaitAsync(Timeout);
        _end += n;
        return n > 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ssl is not null) await _ssl.DisposeAsync();
        _socket.Dispose();
    }
}
