using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FastLb.FunctionalTests.Host;

/// <summary>
/// Clients that keep sending requests through FastLb while a test changes it (an upgrade), and record every failure:
/// keep-alive clients (reconnecting only when a response says Connection: close) and clients that open a new
/// connection per request, at once. A request fails when its connect is refused or reset, or its response is not a
/// whole 200; nothing is retried.
/// </summary>
internal sealed class ContinuousLoad : IAsyncDisposable
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = [];
    private readonly ConcurrentQueue<string> _failures = new();
    private long _succeeded;
    private long _connections;

    /// <param name="keepAlive">Endpoints (HTTP listeners) for one keep-alive client each.</param>
    /// <param name="newConnection">Endpoints (HTTP or TCP listeners) for one connection-per-request client each.</param>
    public ContinuousLoad(IEnumerable<IPEndPoint> keepAlive, IEnumerable<IPEndPoint> newConnection)
    {
        foreach (var ep in keepAlive) _clients.Add(Task.Run(() => KeepAliveClientAsync(ep)));
        foreach (var ep in newConnection) _clients.Add(Task.Run(() => NewConnectionClientAsync(ep)));
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);

    /// <summary>Connections opened so far (both kinds).</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public IReadOnlyCollection<string> Failures => _failures;

    /// <summary>Waits until <paramref name="more"/> further requests succeeded (the load is flowing).</summary>
    public async Task WaitForProgressAsync(long more, TimeSpan timeout)
    {
        var target = Succeeded + more;
        var deadline = DateTime.UtcNow + timeout;
        while (Succeeded < target)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"load made no progress: {Succeeded}/{target}; failures: {string.Join(" | ", _failures.Take(5))}");
            await Task.Delay(20);
        }
    }

    private async Task KeepAliveClientAsync(IPEndPoint endPoint)
    {
        var buffer = new byte[16 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (!await ConnectAsync(socket, endPoint)) continue;
            while (!_stop.IsCancellationRequested)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(OperationTimeout);
                string? close;
                try
                {
                    await socket.SendAsync("GET /ka HTTP/1.1\r\nHost: load\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
                    close = await ReadResponseAsync(socket, buffer, timeout.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    Fail($"keep-alive request to {endPoint}: {e.GetType().Name}: {e.Message}");
                    break;
                }
                if (close is null) break; // Fail recorded it
                Interlocked.Increment(ref _succeeded);
                if (close == "close") break; // the server closes after this response: reconnect, as clients do
                await Task.Delay(1);
            }
        }
    }

    private async Task NewConnectionClientAsync(IPEndPoint endPoint)
    {
        var buffer = new byte[16 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (!await ConnectAsync(socket, endPoint)) continue;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(OperationTimeout);
            try
            {
                await socket.SendAsync("GET /new HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
                if (await ReadResponseAsync(socket, buffer, timeout.Token) is not null) Interlocked.Increment(ref _succeeded);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Fail($"new-connection request to {endPoint}: {e.GetType().Name}: {e.Message}");
            }
            await Task.Delay(1);
        }
    }

    private async Task<bool> ConnectAsync(Socket socket, IPEndPoint endPoint)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(OperationTimeout);
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token);
            Interlocked.Increment(ref _connections);
            return true;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e)
        {
            Fail($"connect to {endPoint}: {e.GetType().Name}: {e.Message}");
            await Task.Delay(10);
            return false;
        }
    }

    /// <summary>Reads one whole response (Content-Length framed); its Connection value ("" when none), or null after recording a failure.</summary>
    private async Task<string?> ReadResponseAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        int headEnd;
        while ((headEnd = IndexOf(buffer, filled, "\r\n\r\n"u8)) < 0)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct);
            if (n == 0)
            {
                Fail($"connection closed {(filled == 0 ? "before any response byte" : "inside a response head")}");
                return null;
            }
            filled += n;
        }
        var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
        if (!head.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
        {
            Fail($"status line '{head.Split("\r\n")[0]}'");
            return null;
        }
        var length = int.Parse(Header(head, "content-length") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var have = filled - (headEnd + 4);
        while (have < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(0), SocketFlags.None, ct);
            if (n == 0)
            {
                Fail("connection closed inside a response body");
                return null;
            }
            have += n;
        }
        return Header(head, "connection")?.ToLowerInvariant() ?? "";
    }

    private static string? Header(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    private static int IndexOf(byte[] buffer, int length, ReadOnlySpan<byte> value) => buffer.AsSpan(0, length).IndexOf(value);

    private void Fail(string message) => _failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {message}");

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_clients).WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
