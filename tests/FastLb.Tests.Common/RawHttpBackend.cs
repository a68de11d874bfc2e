using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>
/// An HTTP/1.1 backend on 127.0.0.1:0 under the test's full control: it records every byte it receives,
/// counts connections and complete requests, and lets a <see cref="BackendResponder"/> answer each request
/// with exact bytes. By default it answers 200 with its name as body and in <c>x-backend</c>, keeping alive.
/// </summary>
internal sealed class RawHttpBackend : IAsyncDisposable
{
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    private readonly LoopbackBackend _server;
    private readonly CancellationTokenSource _idle = new(); // cancels waits for a next request: a graceful close
    private readonly Lock _receivedLock = new();
    private readonly MemoryStream _received = new();
    private int _acceptedBeforeReset;
    private int _connectionIds; // never reset, so a connection's index stays unique across Reset()
    private int _open;

    private RawHttpBackend(string name, BackendResponder? responder)
    {
        Responder = responder ?? OkAsync;
        _server = LoopbackBackend.Start(name, ServeAsync);
    }

    public string Name => _server.Name;
    public IPEndPoint EndPoint => _server.EndPoint;

    /// <summary>Answers requests; swap it between tests of a shared fixture.</summary>
    public BackendResponder Responder { get; set; }

    /// <summary>Answer <c>Expect: 100-continue</c> with <c>100 Continue</c> before reading the body (default true).</summary>
    public bool SendContinue { get; set; } = true;

    /// <summary>The interim response sent for <c>Expect: 100-continue</c>.</summary>
    public string ContinueResponse { get; set; } = "HTTP/1.1 100 Continue\r\n\r\n";

    public int AcceptedConnections => _server.AcceptedConnections - Volatile.Read(ref _acceptedBeforeReset);
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Complete requests received, in order.</summary>
    public ConcurrentQueue<BackendRequest> Requests { get; private set; } = new();

    /// <summary>Every byte received on any connection, in arrival order per read (Latin-1).</summary>
    public string ReceivedText
    {
        get
        {
            lock (_receivedLock) return Encoding.Latin1.GetString(_received.GetBuffer(), 0, (int)_received.Length);
        }
    }

    public long ReceivedByteCount
    {
        get
        {
            lock (_receivedLock) return _received.Length;
        }
    }

    public static RawHttpBackend Start(string name, BackendResponder? responder = null) => new(name, responder);

    /// <summary>
    /// A backend that answers each request with its decoded body, naming itself in <c>x-backend</c> and saying how the
    /// body came: <c>x-framing</c> (none, length or chunked) and <c>x-content-length</c> (the header's value or none).
    /// </summary>
    public static RawHttpBackend StartEchoBody(string name = "echo") => new(name, EchoBodyAsync);

    /// <summary>A backend that answers each request with <c>101 Switching Protocols</c> (websocket), then echoes every byte until FIN.</summary>
    public static RawHttpBackend StartUpgradeEcho(string name = "ws") => new(name, UpgradeEchoAsync);

    /// <summary>Forgets what was received and counted so far (connections already open stay open).</summary>
    public void Reset()
    {
        lock (_receivedLock) _received.SetLength(0);
        Requests = new ConcurrentQueue<BackendRequest>();
        Volatile.Write(ref _acceptedBeforeReset, _server.AcceptedConnections);
    }

    /// <summary>A complete 200 response naming <paramref name="name"/>; the body defaults to the name.</summary>
    public static string Ok(string name, string? body = null, string extraHeaders = "")
    {
        body ??= name;
        return $"HTTP/1.1 200 OK\r\nx-backend: {name}\r\nContent-Length: {Encoding.Latin1.GetByteCount(body)}\r\n{extraHeaders}\r\n{body}";
    }

    private async Task<bool> OkAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        await connection.SendAsync(Ok(Name, request.Method == "HEAD" ? "" : null), ct).ConfigureAwait(false);
        return true;
    }

    private static async Task<bool> EchoBodyAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        var head = $"HTTP/1.1 200 OK\r\nx-backend: {connection.Backend}\r\nx-framing: {request.Framing}\r\n" +
                   $"x-content-length: {request.Head["content-length"] ?? "none"}\r\nContent-Length: {request.Body.Length}\r\n\r\n";
        await connection.SendAsync(head, ct).ConfigureAwait(false);
        await connection.SendAsync(request.Body, ct).ConfigureAwait(false);
        return true;
    }

    private static async Task<bool> UpgradeEchoAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        await connection.SendAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", ct).ConfigureAwait(false);
        await connection.EchoUntilFinAsync(ct).ConfigureAwait(false);
        return false;
    }

    private async Task ServeAsync(Socket socket, CancellationToken stop)
    {
        Interlocked.Increment(ref _open);
        var reader = new BufferedSocketReader(socket, Record);
        var connection = new BackendConnection(socket, reader, Interlocked.Increment(ref _connectionIds), Name);
        using var idleOrStop = CancellationTokenSource.CreateLinkedTokenSource(stop, _idle.Token);
        try
        {
            while (true)
            {
                if (_idle.IsCancellationRequested) break;
                var headBytes = await reader.ReadThroughAsync(HeadEnd, 1024 * 1024, idleOrStop.Token).ConfigureAwait(false);
                if (headBytes is null) break;
                var head = HttpHead.Parse(headBytes);
                if (SendContinue && head.HasToken("expect", "100-continue"))
                    await connection.SendAsync(ContinueResponse, stop).ConfigureAwait(false);

                var body = new MemoryStream();
                var framing = "none";
                var trailers = new List<string>();
                if (head.HasToken("transfer-encoding", "chunked"))
                {
                    framing = "chunked";
                    trailers = await HttpBodies.ReadChunkedAsync(reader, s => body.Write(s), stop).ConfigureAwait(false);
                }
                else if (head["content-length"] is { } cl)
                {
                    framing = "length";
                    await reader.ReadExactlyAsync(long.Parse(cl), s => body.Write(s), stop).ConfigureAwait(false);
                }
                var request = new BackendRequest(head, body.ToArray(), framing, trailers, connection.Index);
                Requests.Enqueue(request);
                connection.Requests++;
                if (!await Responder(request, connection, stop).ConfigureAwait(false)) break;
                if (request.Version == "HTTP/1.0" || head.HasToken("connection", "close")) break;
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch
        {
            // Malformed input, resets and disposal are what these tests provoke; the connection just ends.
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>
    /// Shuts down the way a server being stopped does: stops listening (new connects are refused), closes every
    /// connection that waits for its next request, and closes each busy one after its response.
    /// </summary>
    public void CloseGracefully()
    {
        _server.StopListening();
        _idle.Cancel();
    }

    private void Record(ReadOnlySpan<byte> bytes)
    {
        lock (_receivedLock) _received.Write(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync().ConfigureAwait(false);
        _idle.Dispose();
    }
}
