using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.Host.Demo;

/// <summary>
/// A tiny HTTP/1.1 keep-alive server on loopback that answers every request with its own name
/// (body and <c>x-backend</c> header), so a person can see which pool served them.
/// </summary>
internal sealed class DemoBackend(string name) : IAsyncDisposable
{
    private const int MaxHeadBytes = 16 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private Task? _accept;

    public string Name { get; } = name;
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public void Start()
    {
        _listener.Start(128);
        _accept = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        var buffer = new byte[MaxHeadBytes];
        var filled = 0;
        var body = Encoding.ASCII.GetBytes(Name + "\n");
        try
        {
            while (true)
            {
                var end = IndexOfHeadEnd(buffer, filled);
                if (end < 0)
                {
                    if (filled == buffer.Length) return;
                    var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                    if (n == 0) return;
                    filled += n;
                    continue;
                }
                var head = Encoding.ASCII.GetString(buffer, 0, end);
                var contentLength = HeaderValue(head, "content-length") is { } cl && long.TryParse(cl, out var len) ? len : 0;
                var close = HeaderValue(head, "connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true
                            || head.Contains(" HTTP/1.0\r\n", StringComparison.Ordinal);
                var isHead = head.StartsWith("HEAD ", StringComparison.Ordinal);
                filled -= end;
                Buffer.BlockCopy(buffer, end, buffer, 0, filled);
                // Discard the request body (demo backends don't read it).
                while (contentLength > 0)
                {
                    if (filled == 0)
                    {
                        filled = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                        if (filled == 0) return;
                    }
                    var take = (int)Math.Min(filled, contentLength);
                    contentLength -= take;
                    filled -= take;
                    Buffer.BlockCopy(buffer, take, buffer, 0, filled);
                }
                // GET /status/503 answers 503 (any 200-599): a way to show errors in metrics and the dashboard.
                var status = StatusOf(head);
                var response = Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Demo")}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nx-backend: {Name}\r\n{(close ? "Connection: close\r\n" : "")}\r\n");
                await client.SendAsync(response, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (!isHead) await client.SendAsync(body, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (close) return;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private static int StatusOf(string head)
    {
        var target = head.Split(' ', 3) is [_, var t, _] ? t : "/";
        return target.StartsWith("/status/", StringComparison.Ordinal) && int.TryParse(target.AsSpan(8), out var status) && status is >= 200 and <= 599 and not (204 or 304) // those have no body
            ? status
            : 200;
    }

    private static int IndexOfHeadEnd(byte[] buffer, int filled)
    {
        var i = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
        return i < 0 ? -1 : i + 4;
    }

    private static string? HeaderValue(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        if (_accept is not null) await _accept.ConfigureAwait(false);
        _stop.Dispose();
    }
}
