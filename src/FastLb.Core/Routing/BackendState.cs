using System.Net;
using FastLb.Core.Health;
using FastLb.Core.Metrics;
using FastLb.Core.Tls;

namespace FastLb.Core.Routing;

/// <summary>Long-lived runtime state of one backend (live connections, counters, health); survives table swaps.</summary>
internal sealed class BackendState(string service, string pool, string address, IPEndPoint? endPoint, TimeProvider? time = null)
{
    private int _live;
    private int _livePinned;
    private long _total;
    private long _failures;
    private int _upstreamOpen;

    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string Address { get; } = address;
    public IPEndPoint? EndPoint { get; } = endPoint;

    public int Live => Volatile.Read(ref _live);

    /// <summary>Live work that came by share (not through a route pinning the pool): what a pool drain waits for and cuts.</summary>
    public int SharedLive => Math.Max(0, Volatile.Read(ref _live) - Volatile.Read(ref _livePinned));
    public long TotalConnections => Interlocked.Read(ref _total);
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Active-check state, outlier counters and slow-start ramp; the table builder turns it into each generation's view.</summary>
    public BackendHealth Health { get; } = new(time ?? TimeProvider.System);

    /// <summary>Per-loop traffic counters: requests by status class, failures, bytes, latency histograms.</summary>
    public TrafficCounters Traffic { get; } = new();

    /// <summary>The last minute of <see cref="Traffic"/> by second (filled by <see cref="TrafficStats.Tick"/>).</summary>
    public TrafficWindow Window { get; } = new();

    /// <summary>TLS handshakes with this backend (services with <c>tls</c>).</summary>
    public UpstreamTlsStats Tls { get; } = new();

    /// <summary>Upstream connections open to this backend (HTTP: pooled idle ones included).</summary>
    public int UpstreamOpen => Volatile.Read(ref _upstreamOpen);

    /// <summary>Counts an upstream connection opened (+1) or closed (-1); once per connection, not per request.</summary>
    public void CountUpstream(int delta) => Interlocked.Add(ref _upstreamOpen, delta);

    /// <summary>
    /// Counts a connection (TCP) or request (HTTP) that started on this backend and marks <paramref name="connection"/>
    /// as running on it. Lock-free and allocation-free: two atomic increments and a field write.
    /// </summary>
    /// <param name="pinned">True when a route pinning the pool sent it here (preview traffic), not the pool's share.</param>
    public void Acquire(IDrainable? connection, bool pinned = false)
    {
        if (pinned) Interlocked.Increment(ref _livePinned);
        Interlocked.Increment(ref _live);
        Interlocked.Increment(ref _total);
        if (connection is null) return;
        ref var link = ref connection.DrainLink;
        if (link.Owner is null)
        {
            link.Pinned = pinned;
            Volatile.Write(ref link.Owner, this);
        }
        // else already marked (a tunnel after its upgrade request)
    }

    /// <summary>Balances one <see cref="Acquire"/>.</summary>
    public void Release(IDrainable? connection, bool pinned = false)
    {
        if (connection is not null)
        {
            ref var owner = ref connection.DrainLink.Owner;
            if (ReferenceEquals(owner, this)) Volatile.Write(ref owner, null);
        }
        Interlocked.Decrement(ref _live);
        if (pinned) Interlocked.Decrement(ref _livePinned);
    }

    /// <summary>
    /// Counts a failed attempt on this backend (connect failure or timeout, reset before the response head, a 5xx
    /// with eject_on_5xx) and feeds outlier ejection; <paramref name="reason"/> is a fixed text. Allocation-free.
    /// </summary>
    public void RecordFailure(string reason)
    {
        Interlocked.Increment(ref _failures);
        Health.RecordFailure(reason);
    }

    /// <summary>The backend answered (or accepted a TCP connection): ends its run of failures.</summary>
    public void RecordSuccess() => Health.RecordSuccess();

    /// <summary>Counts a connect that failed (refused, unreachable) or, with <paramref name="timedOut"/>, did not finish in time.</summary>
    public void RecordConnectFailure(bool timedOut) =>
        Traffic.Add(timedOut ? TrafficField.ConnectTimeouts : TrafficField.ConnectFailures);
}
