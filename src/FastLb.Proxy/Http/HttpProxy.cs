using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;
using Microsoft.Extensions.ObjectPool;

namespace FastLb.Proxy.Http;

/// <summary>The L7 proxy shared by every <c>protocol: http</c> listener: the routing source, buffers and the upstream pool.</summary>
/// <remarks>Plug it into <see cref="ProxyServer"/> as the http handler factory (<c>_ => httpProxy</c>); dispose it after the server stopped.</remarks>
internal sealed class HttpProxy : IConnectionHandler, IDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _nameBytes = new(StringComparer.Ordinal);
    // One server side per tls config: built by the first connection of a (re)loaded listener, dropped with its config.
    private readonly ConditionalWeakTable<TlsTerminationConfig, TlsTermination> _tls = [];

    public HttpProxy(Router router, TransportOptions transport, UpstreamPool? pool = null)
    {
        Router = router;
        Transport = transport;
        Pool = pool ?? new UpstreamPool(router, transport.Loops.Count);
        RequestHeads = new(new DefaultObjectPool<HttpRequestHead>(new DefaultPooledObjectPolicy<HttpRequestHead>(), MaxPooledHeads), transport.Loops);
        ResponseHeads = new(new DefaultObjectPool<HttpResponseHead>(new DefaultPooledObjectPolicy<HttpResponseHead>(), MaxPooledHeads), transport.Loops);
    }

    public Router Router { get; }
    public TransportOptions Transport { get; }
    public UpstreamPool Pool { get; }

    /// <summary>
    /// Parsed request and response heads, rented when a request's first byte arrives and returned when it ends,
    /// so an idle keep-alive connection holds no head buffers. The parsers reset a head before filling it. Each
    /// event loop keeps a few for itself (<see cref="LoopCachedPool{T}"/>).
    /// </summary>
    internal LoopCachedPool<HttpRequestHead> RequestHeads { get; }

    internal LoopCachedPool<HttpResponseHead> ResponseHeads { get; }

    /// <summary>Heads kept for reuse: enough for the requests in flight at once on a busy proxy.</summary>
    private const int MaxPooledHeads = 4096;

    public IProxyConnection Create(EpollSocket client, ProxyListener listener, ListenerConfig config) =>
        new HttpProxyConnection(this, client, config, listener);

    /// <summary>The TLS server side of a listener that terminates TLS, or null for plain HTTP.</summary>
    internal TlsTermination? TlsFor(ListenerConfig config) =>
        config.Tls is { } tls ? _tls.GetValue(tls, static t => new TlsTermination(t)) : null;

    /// <summary>The bytes of a hash_on header or cookie name, encoded once.</summary>
    internal byte[] NameBytes(string name) =>
        _nameBytes.GetOrAdd(name, static n => Encoding.ASCII.GetBytes(n));

    public void Dispose()
    {
        Pool.Dispose();
    }
}
