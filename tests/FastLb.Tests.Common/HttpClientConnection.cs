using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>
/// A raw HTTP/1.1 client connection, plain or TLS: sends exact bytes, parses responses strictly (Content-Length,
/// chunked with trailers, close-delimited, interim 1xx), tells when the peer closed.
/// </summary>
internal sealed class HttpClientConnection : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    private readonly Socket _socket;
    private readonly SslStream? _ssl;
    private readonly BufferedSocketReader _reader;

    private HttpClientConnection(Socket socket, SslStream? ssl = null)
    {
        _socket = socket;
        _ssl = ssl;
        _reader = new BufferedSocketReader(socket, tls: ssl);
    }

    public Socket Socket => _socket;

    /// <summary>The TLS session of a client made by <see cref="ConnectTlsAsync"/> (the server's certificate, protocol, ALPN).</summary>
    public SslStream Ssl => _ssl ?? throw new InvalidOperationException("not a TLS client");

    public static async Task<HttpClientConnection> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = await ConnectSocketAsync(endPoint).ConfigureAwait(false);
        return new HttpClientConnection(socket);
    }

    /// <summary>Connects and runs the TLS client handshake with <paramref name="options"/>; bytes then go through TLS.</summary>
    public static async Task<HttpClientConnection> ConnectTlsAsync(IPEndPoint endPoint, SslClientAuthenticationOptions options)
    {
        var socket = await ConnectSocketAsync(endPoint).ConfigureAwait(false);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            using var cts = new CancellationTokenSource(Timeout);
            await ssl.AuthenticateAsClientAsync(options, cts.Token).ConfigureAwait(false);
            return new HttpClientConnection(socket, ssl);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Socket> ConnectSocketAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(Timeout);
            await socket.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task SendAsync(string latin1) => SendAsync(Encoding.Latin1.GetBytes(latin1));

    public async Task SendAsync(ReadOnlyMemory<byte> data)
    {
        using var cts = new CancellationTokenSource(Timeout);
        if (_ssl is not null)
        {
            await _ssl.WriteAsync(data, cts.Token).ConfigureAwait(false);
            return;
        }
        while (!data.IsEmpty)
        {
            var n = await _socket.SendAsync(data, SocketFlags.None, cts.Token).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Reads the next response, 1xx included; <paramref name="toHead"/> says the request was HEAD (no body).</summary>
    public async Task<HttpResponse> ReadResponseAsync(bool toHead = false, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var ct = cts.Token;
        var headBytes = await _reader.ReadThroughAsync(HeadEnd, 1024 * 1024, ct).ConfigureAwait(false)
                        ?? throw new EndOfStreamException("connection closed before a response");
        var head = HttpHead.Parse(headBytes);
        var parts = head.StartLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], out var status))
            throw new InvalidDataException($"not a status line: '{head.StartLine}'");

        if (toHead || status < 200 || status == 204 || status == 304) return new HttpResponse(head, status, [], "none");
        var body = new MemoryStream();
        if (head.HasToken("transfer-encoding", "chunked"))
        {
            var trailers = await HttpBodies.ReadChunkedAsync(_reader, s => body.Write(s), ct).ConfigureAwait(false);
            return new HttpResponse(head, status, body.ToArray(), "chunked") { Trailers = trailers };
        }
        if (head["content-length"] is { } cl)
        {
            await _reader.ReadExactlyAsync(long.Parse(cl), s => body.Write(s), ct).ConfigureAwait(false);
            return new HttpResponse(head, status, body.ToArray(), "length");
        }
        await _reader.ReadToEndAsync(s => body.Write(s), ct).ConfigureAwait(false);
        return new HttpResponse(head, status, body.ToArray(), "close");
    }

    /// <summary>Reads interim responses (not 101) into <see cref="HttpResponse.Interim"/> and returns the final one.</summary>
    public async Task<HttpResponse> ReadFinalResponseAsync(bool toHead = false, TimeSpan? timeout = null)
    {
        var interim = new List<HttpResponse>();
        while (true)
        {
            var response = await ReadResponseAsync(toHead, timeout).ConfigureAwait(false);
            if (response.Status >= 200 || response.Status == 101)
            {
                response.Interim.AddRange(interim);
                return response;
            }
            interim.Add(response);
        }
    }

    /// <summary>Sends <paramref name="request"/> as-is and returns the final response.</summary>
    public async Task<HttpResponse> RequestAsync(string request, bool toHead = false)
    {
        await SendAsync(request).ConfigureAwait(false);
        return await ReadFinalResponseAsync(toHead).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="head"/> then <paramref name="body"/> as-is and returns the final response.</summary>
    public async Task<HttpResponse> RequestAsync(string head, ReadOnlyMemory<byte> body)
    {
        await SendAsync(head).ConfigureAwait(false);
        await SendAsync(body).ConfigureAwait(false);
        return await ReadFinalResponseAsync().ConfigureAwait(false);
    }

    /// <summary>A keep-alive GET of <paramref name="path"/>.</summary>
    public Task<HttpResponse> GetAsync(string path = "/", string host = "test", string extraHeaders = "") =>
        RequestAsync($"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extraHeaders}\r\n");

    /// <summary>One GET on a fresh connection (<c>Connection: close</c>); returns the final response.</summary>
    public static async Task<HttpResponse> GetOnceAsync(IPEndPoint endPoint, string path = "/", string host = "test")
    {
        await using var client = await ConnectAsync(endPoint).ConfigureAwait(false);
        return await client.GetAsync(path, host, "Connection: close\r\n").ConfigureAwait(false);
    }

    /// <summary>One GET / on a fresh connection; returns the backend that answered (its <c>x-backend</c>).</summary>
    public static async Task<string> GetBackendOnceAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        var response = await GetOnceAsync(endPoint).WaitAsync(timeout).ConfigureAwait(false);
        return response.Backend ?? throw new InvalidOperationException($"no x-backend in response: {response}");
    }

    /// <summary>
    /// Waits for the peer to end the connection (FIN or RST). Returns true when it did within <paramref name="within"/>;
    /// <paramref name="extra"/> gets any bytes that arrived first.
    /// </summary>
    public async Task<(bool Closed, byte[] Extra)> WaitForCloseAsync(TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var extra = new MemoryStream();
        try
        {
            await _reader.ReadToEndAsync(s => extra.Write(s), cts.Token).ConfigureAwait(false);
            return (true, extra.ToArray());
        }
        catch (SocketException)
        {
            return (true, extra.ToArray());
        }
        catch (OperationCanceledException)
        {
            return (false, extra.ToArray());
        }
    }

    /// <summary>Reads raw bytes (after a 101); empty on FIN.</summary>
    public async Task<byte[]> ReadSomeAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await _reader.ReadSomeAsync(cts.Token).ConfigureAwait(false);
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await _reader.ReadExactlyAsync(count, cts.Token).ConfigureAwait(false);
    }

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public async ValueTask DisposeAsync()
    {
        if (_ssl is not null) await _ssl.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
