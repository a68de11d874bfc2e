using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;
using Microsoft.Extensions.ObjectPool;

namespace FastLb.Proxy.Http;

/// <summary>The L7 proxy shared by every <c>protocol: http</c> listener: the routing source, buffers and the upstream pool.</summary>
/// <remarks>Plug it into <see cref="ProxyServer"/> as the http handler factory (<c>_ => httpProxy</c>); dispose it after the server stopped.</remarks>
internal sealed class HttpProxy : IConnectionHandler, IDisposable
{
    /// <summary>How often every connection's timeouts are checked; a timeout fires up to this late.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentDictionary<string, byte[]> _nameBytes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<HttpProxyConnection, byte> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly Timer _heartbeat;

    public HttpProxy(Router router, TransportOptions transport, UpstreamPool? pool = null)
    {
        Router = router;
        Transport = transport;
        Pool = pool ?? new UpstreamPool(router);
        _heartbeat = new Timer(static s => ((HttpProxy)s!).OnHeartbeat(), this, HeartbeatInterval, HeartbeatInterval);
    }

    public Router Router { get; }
    public TransportOptions Transport { get; }
    public UpstreamPool Pool { get; }

    /// <summary>
    /// Parsed request and response heads, rented when a request's first byte arrives and returned when it ends,
    /// so an idle keep-alive connection holds no head buffers. The parsers reset a head before filling it.
    /// </summary>
    internal ObjectPool<HttpRequestHead> RequestHeads { get; } = new DefaultObjectPool<HttpRequestHead>(new DefaultPooledObjectPolicy<HttpRequestHead>(), MaxPooledHeads);

    internal ObjectPool<HttpResponseHead> ResponseHeads { get; } = new DefaultObjectPool<HttpResponseHead>(new DefaultPooledObjectPolicy<HttpResponseHead>(), MaxPooledHeads);

    /// <summary>Heads kept for reuse: enough for the requests in flight at once on a busy proxy.</summary>
    private const int MaxPooledHeads = 4096;

    public IProxyConnection Create(EpollSocket client, ProxyListener listener, ListenerConfig config) =>
        new HttpProxyConnection(this, client, config, listener);

    /// <summary>Adds a connection to the heartbeat; the connection calls it when it starts and <see cref="Untrack"/> when it ends.</summary>
    internal void Track(HttpProxyConnection connection) => _connections.TryAdd(connection, 0);

    internal void Untrack(HttpProxyConnection connection) => _connections.TryRemove(connection, out _);

    private void OnHeartbeat()
    {
        var now = Environment.TickCount64;
        foreach (var (connection, _) in _connections) connection.OnHeartbeat(now);
    }

    /// <summary>The bytes of a hash_on header or cookie name, encoded once.</summary>
    internal byte[] NameBytes(string name) =>
        _nameBytes.GetOrAdd(name, static n => Encoding.ASCII.GetBytes(n));

    public void Dispose()
    {
        _heartbeat.Dispose();
        Pool.Dispose();
    }
}
