using FastLb.Core.Tls;

namespace FastLb.Core.Metrics;

/// <summary>Counters of one listener by name (they survive reloads and re-binds): client connections and every request it answered.</summary>
internal sealed class ListenerTraffic(string name)
{
    private int _active;
    private long _total;
    private long _refused;

    public string Name { get; } = name;

    /// <summary>Requests (HTTP; FastLb's own answers included) or connections (TCP) that ended, by status class, with bytes and durations.</summary>
    public TrafficCounters Traffic { get; } = new();

    public int ActiveConnections => Volatile.Read(ref _active);
    public long TotalConnections => Interlocked.Read(ref _total);

    /// <summary>Connections closed at once because a limit was reached or descriptors ran out (on_limit: close).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>A client connection was accepted (once per connection, not per request).</summary>
    public void Opened()
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _total);
    }

    public void Closed() => Interlocked.Decrement(ref _active);

    private long _rejectedProxyHeaders;

    /// <summary>Connections closed because the PROXY protocol header they owed was missing, malformed or late.</summary>
    public long RejectedProxyHeaders => Interlocked.Read(ref _rejectedProxyHeaders);

    public void ProxyHeaderRejected() => Interlocked.Increment(ref _rejectedProxyHeaders);
    public void Refuse() => Interlocked.Increment(ref _refused);

    private long _rejectedClientHellos;

    /// <summary>TLS passthrough connections closed for a malformed, oversized, truncated or late ClientHello, or no route for its name.</summary>
    public long RejectedClientHellos => Interlocked.Read(ref _rejectedClientHellos);

    public void ClientHelloRejected() => Interlocked.Increment(ref _rejectedClientHellos);

    private long _tlsHandshakes;
    private readonly long[] _tlsHandshakeFailures = new long[TlsHandshakeFailures.Count];

    /// <summary>TLS handshakes a terminating listener finished.</summary>
    public long TlsHandshakes => Interlocked.Read(ref _tlsHandshakes);

    public void TlsHandshakeDone() => Interlocked.Increment(ref _tlsHandshakes);

    /// <summary>TLS handshakes a terminating listener gave up on, for <paramref name="reason"/>.</summary>
    public long TlsHandshakeFailuresFor(TlsHandshakeFailure reason) => Interlocked.Read(ref _tlsHandshakeFailures[(int)reason]);

    public void TlsHandshakeFailed(TlsHandshakeFailure reason) => Interlocked.Increment(ref _tlsHandshakeFailures[(int)reason]);
}
