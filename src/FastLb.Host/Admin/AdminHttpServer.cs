using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Host.Control;

namespace FastLb.Host.Admin;

/// <summary>
/// The optional read-only admin endpoint (<c>admin.listen</c>): <c>GET /status</c> (the control socket's status
/// JSON), <c>GET /metrics</c> (Prometheus text) and <c>GET /</c> (a live dashboard that polls /status).
/// One request per connection, bounded head, GET and HEAD only; it changes nothing.
/// </summary>
/// <param name="inherited">A listening socket handed over by the process this one replaces (an upgrade), used instead of binding.</param>
internal sealed class AdminHttpServer(IPEndPoint bind, FastLbRuntime runtime, ControlCommandHandler handler, Socket? inherited = null) : IDisposable
{
    private const int MaxHeadBytes = 8 * 1024;
    private const int MaxClients = 16;
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _stop = new();
    private readonly MetricsExposition _metrics = new(runtime);
    private Socket? _listener;

    public IPEndPoint EndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? bind);

    /// <summary>The listening socket, to hand over to a process replacing this one; null before <see cref="Start"/>.</summary>
    public System.Runtime.InteropServices.SafeHandle? ListenHandle => _listener?.SafeHandle;

    public void Start()
    {
        if (inherited is not null)
        {
            _listener = inherited;
            _ = new BoundedAcceptLoop("admin http", MaxClients, ServeAsync, RefuseAsync).RunAsync(inherited, _stop.Token);
            return;
        }
        var socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(bind);
            socket.Listen(64);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listener = socket;
        _ = new BoundedAcceptLoop("admin http", MaxClients, ServeAsync, RefuseAsync).RunAsync(socket, _stop.Token);
    }

    private static Task<int> RefuseAsync(Socket client) =>
        client.SendAsync("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None);

    private async Task ServeAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ClientTimeout);
        var head = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
        var (status, type, body, lease) = head is null ? Text(400, "text/plain", "bad request\n") : Route(head);
        using var _ = lease;
        var isHead = head?.StartsWith("HEAD ", StringComparison.Ordinal) == true;
        var response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {type}\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
        await client.SendAsync(response, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        if (!isHead) await client.SendAsync(body, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Send);
    }

    private static async Task<string?> ReadHeadAsync(Socket client, CancellationToken ct)
    {
        var buffer = new byte[MaxHeadBytes];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return null;
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Encoding.ASCII.GetString(buffer, 0, end);
        }
        return null; // head too large
    }

    private (int Status, string Type, ReadOnlyMemory<byte> Body, IDisposable? Lease) Route(string head)
    {
        var line = head.AsSpan(0, head.IndexOf('\r') is var cr and >= 0 ? cr : head.Length);
        var parts = line.ToString().Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal)) return Text(400, "text/plain", "bad request\n");
        if (parts[0] is not ("GET" or "HEAD")) return Text(405, "text/plain", "read-only: GET /, /status, /metrics, /events, /history\n");
        var path = parts[1];
        var query = path.IndexOf('?');
        var args = query >= 0 ? path[(query + 1)..] : "";
        if (query >= 0) path = path[..query];
        return path switch
        {
            "/events" => QueryReply("events", args, handler.Events),
            "/history" => QueryReply("history", args, handler.History),
            "/" => Text(200, "text/html; charset=utf-8", AdminDashboard.Html),
            "/status" => Text(200, "application/json", handler.Status() + "\n"),
            "/metrics" => Metrics(),
            _ => Text(404, "text/plain", "not found: try /, /status, /metrics, /events, /history\n"),
        };
    }

    /// <summary><c>/events?since=SEQ&amp;limit=N</c> and <c>/history?since=SECOND</c>: the same replies as <c>ctl events</c> and <c>ctl history</c>.</summary>
    private static (int Status, string Type, ReadOnlyMemory<byte> Body, IDisposable? Lease) QueryReply(string command, string query, Func<string[], string> run)
    {
        var words = new List<string> { command };
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) continue;
            words.Add("--" + pair[..eq]);
            words.Add(pair[(eq + 1)..]);
        }
        var reply = run([.. words]);
        return Text(reply.StartsWith("{\"ok\":true", StringComparison.Ordinal) ? 200 : 400, "application/json", reply + "\n");
    }

    private static (int Status, string Type, ReadOnlyMemory<byte> Body, IDisposable? Lease) Text(int status, string type, string body) => (status, type, Encoding.UTF8.GetBytes(body), null);

    /// <summary>Already UTF-8, sent from the exposition's own buffer, which goes back to it once sent.</summary>
    private (int Status, string Type, ReadOnlyMemory<byte> Body, IDisposable? Lease) Metrics()
    {
        var text = _metrics.RenderUtf8();
        return (200, "text/plain; version=0.0.4; charset=utf-8", text.Utf8, text);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };

    public void Dispose()
    {
        _stop.Cancel();
        _listener?.Dispose();
    }
}
