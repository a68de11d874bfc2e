using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Proxy;
using FastLb.Proxy.Http;

namespace FastLb.Benchmarks;

/// <summary>
/// One keep-alive HTTP/1.1 request and its response through FastLb's HTTP proxy on loopback (Proxied), and the same
/// exchange straight to the backend (Direct).
/// </summary>
/// <remarks>
/// The client and the backend use blocking .NET sockets with fixed buffers, which allocate nothing, so the
/// allocation column (process-wide) is the proxy's own per-request allocation: the steady-state L7 path must show
/// 0 B. The time column is a loopback round trip on a shared machine; compare Proxied with Direct, not with other
/// machines. <see cref="AccessLog"/> turns a JSON access log on for the listener (written to a scratch file).
/// </remarks>
[MemoryDiagnoser]
public class HttpRequestBenchmark
{
    internal static readonly byte[] Request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"u8.ToArray();
    internal static readonly byte[] Response = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n"u8.ToArray();

    private readonly byte[] _clientBuffer = new byte[4096];
    private Socket _backend = null!;
    private Thread _backendThread = null!;
    private ProxyServer _server = null!;
    private HttpProxy _http = null!;
    private Socket _viaProxy = null!;
    private Socket _direct = null!;
    private string? _accessLogPath;

    /// <summary>With a JSON access_log on the listener: one line formatted and buffered per request.</summary>
    [Params(false, true)]
    public bool AccessLog { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _backend.Listen(64);
        var backendEndPoint = (IPEndPoint)_backend.LocalEndPoint!;
        _backendThread = new Thread(AcceptLoop) { IsBackground = true, Name = "bench-backend" };
        _backendThread.Start();

        _accessLogPath = AccessLog ? Path.Combine(Path.GetTempPath(), $"fastlb-bench-access-{Environment.ProcessId}.log") : null;
        var accessLog = _accessLogPath is null ? "" : $", access_log: {'{'} path: {_accessLogPath}, format: json {'}'}";
        var yaml = $"""
            listeners: [ {'{'} name: web, bind: "127.0.0.1:0", protocol: http, routes: [ {'{'} service: web {'}'} ]{accessLog} {'}'} ]
            services:
              web: {'{'} pools: {'{'} main: [ {backendEndPoint} ] {'}'} {'}'}
            """;
        var config = ConfigLoader.Parse(yaml, "bench.yaml");
        var router = new Router();
        router.Publish(RoutingTableBuilder.Build(config, 1, new Dictionary<string, ServiceTraffic>(),
            new Dictionary<BackendKey, BackendOverride>(), new BackendStateRegistry()));
        _server = new ProxyServer(router, _ => _http);
        _http = new HttpProxy(router, _server.Transport);
        _server.ApplyAsync(config).GetAwaiter().GetResult();

        _viaProxy = Connect(_server.Listeners[0].EndPoint);
        _direct = Connect(backendEndPoint);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _viaProxy.Dispose();
        _direct.Dispose();
        _server.StopAsync(TimeSpan.Zero).GetAwaiter().GetResult();
        _http.Dispose();
        _backend.Dispose();
        if (_accessLogPath is not null) File.Delete(_accessLogPath);
    }

    [Benchmark]
    public int Proxied() => RoundTrip(_viaProxy);

    [Benchmark(Baseline = true)]
    public int Direct() => RoundTrip(_direct);

    private int RoundTrip(Socket socket)
    {
        socket.Send(Request);
        return ReceiveResponse(socket, _clientBuffer);
    }

    /// <summary>Reads one response with a Content-Length body; returns its length.</summary>
    private static int ReceiveResponse(Socket socket, byte[] buffer)
    {
        var filled = 0;
        while (true)
        {
            var n = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
            if (n == 0) throw new InvalidOperationException("connection closed mid-response");
            filled += n;
            var span = buffer.AsSpan(0, filled);
            var headEnd = span.IndexOf("\r\n\r\n"u8);
            if (headEnd < 0) continue;
            var length = ContentLength(span[..headEnd]);
            if (filled >= headEnd + 4 + length) return filled;
        }
    }

    internal static int ContentLength(ReadOnlySpan<byte> head)
    {
        var at = head.IndexOf("\r\nContent-Length: "u8);
        if (at < 0) at = head.IndexOf("\r\ncontent-length: "u8);
        if (at < 0) throw new InvalidOperationException("no Content-Length in " + Encoding.ASCII.GetString(head));
        var value = head[(at + 18)..];
        var end = value.IndexOf((byte)'\r');
        if (end >= 0) value = value[..end];
        var result = 0;
        foreach (var b in value) result = result * 10 + (b - '0');
        return result;
    }

    private static Socket Connect(EndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(endPoint);
        return socket;
    }

    /// <summary>The backend: a blocking thread per connection, answering every request head with the same response.</summary>
    private void AcceptLoop()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = _backend.Accept();
            }
            catch (Exception)
            {
                return; // disposed at cleanup
            }
            connection.NoDelay = true;
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "bench-backend-conn" }.Start();
        }
    }

    internal static void Serve(Socket connection)
    {
        var buffer = new byte[4096];
        var filled = 0;
        try
        {
            while (true)
            {
                var n = connection.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (n == 0) return;
                filled += n;
                // Answer each complete head; keep what follows it (a pipelined next request) for the next turn.
                while (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) is var end and >= 0)
                {
                    connection.Send(Response);
                    var rest = filled - (end + 4);
                    buffer.AsSpan(end + 4, rest).CopyTo(buffer);
                    filled = rest;
                }
            }
        }
        catch (Exception)
        {
            // The proxy or the client went away: this connection is done.
        }
        finally
        {
            connection.Dispose();
        }
    }
}
