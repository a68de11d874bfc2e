using System.Collections.Concurrent;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>Idle keep-alive connections per backend, shared by every HTTP listener; reuse is LIFO and bounded per backend.</summary>
/// <remarks>
/// A connection enters the pool only when its last exchange ended cleanly (see <see cref="HttpProxyConnection"/>).
/// It leaves it when rented, when it idled past its upstream_idle_timeout, when the backend closed it, or when the
/// backend no longer takes traffic in the current table (swap, split to 0, weight 0, removed): the drain rule
/// "idle upstream connections to the old pool are closed". The last two are checked on return and by a coarse sweep.
/// </remarks>
internal sealed class UpstreamPool : IDisposable
{
    public const int DefaultMaxIdlePerBackend = 256;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<BackendState, UpstreamIdleList> _idle = new(ReferenceEqualityComparer.Instance);
    private readonly Router _router;
    private readonly int _maxIdlePerBackend;
    private readonly int _loopCount;
    private readonly Timer _sweep;
    private LiveBackends? _live;
    private int _sweeping;
    private volatile bool _disposed;

    /// <param name="router">Source of the table that says which backends still take traffic.</param>
    /// <param name="loopCount">The server's event loop count: each backend keeps one idle stack per loop.</param>
    /// <param name="maxIdlePerBackend">Idle connections kept per backend and loop.</param>
    /// <param name="sweepInterval">Period of the eviction sweep.</param>
    public UpstreamPool(Router router, int loopCount, int maxIdlePerBackend = DefaultMaxIdlePerBackend, TimeSpan? sweepInterval = null)
    {
        _router = router;
        _loopCount = loopCount;
        _maxIdlePerBackend = maxIdlePerBackend;
        var period = sweepInterval ?? SweepInterval;
        _sweep = new Timer(static s => ((UpstreamPool)s!).Sweep(), this, period, period);
    }

    /// <summary>Idle connections over all backends (tests and status).</summary>
    public int IdleCount
    {
        get
        {
            var n = 0;
            foreach (var list in _idle.Values) n += list.Count;
            return n;
        }
    }

    /// <summary>Idle pooled connections to <paramref name="backend"/> (metrics).</summary>
    public int IdleCountOf(BackendState backend) => _idle.TryGetValue(backend, out var list) ? list.Count : 0;

    /// <summary>
    /// The most recently returned usable idle connection to <paramref name="backend"/> on <paramref name="loop"/> that was
    /// opened with the TLS settings <paramref name="tls"/> (null: plain), or null. One opened with other settings (the
    /// service's tls changed by a reload) is closed, so new requests run on connections with the settings in force.
    /// </summary>
    public UpstreamConnection? TryRent(BackendState backend, EpollLoop loop, UpstreamTls? tls)
    {
        if (!_idle.TryGetValue(backend, out var list)) return null;
        var now = Environment.TickCount64;
        while (list.TryPop(loop, out var c))
        {
            if (now - c!.IdleSinceMs < c.IdleTimeoutMs && UpstreamTls.SameSettings(c.Tls, tls) && c.IsIdleUsable())
            {
                c.Reused = true;
                return c;
            }
            c.Discard();
        }
        return null;
    }

    /// <summary>
    /// Closes one idle connection, to any backend, preferring <paramref name="loop"/>'s own: out of descriptors, an idle
    /// connection is worth less than the request that needs a new one. False when nothing was idle.
    /// </summary>
    public bool TryEvictOne(EpollLoop loop)
    {
        foreach (var list in _idle.Values)
        {
            if (list.TryPop(loop, out var c))
            {
                c!.Discard();
                return true;
            }
        }
        foreach (var list in _idle.Values)
        {
            foreach (var other in loop.Group.All)
            {
                if (list.TryPop(other, out var c))
                {
                    c!.Discard();
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Pools <paramref name="connection"/> for reuse, or closes it when it cannot be reused or the pool is full.</summary>
    public void Return(UpstreamConnection connection, TimeSpan idleTimeout)
    {
        if (_disposed || idleTimeout <= TimeSpan.Zero || !IsLive(connection.Backend) || !connection.IsIdleUsable())
        {
            connection.Discard();
            return;
        }
        connection.IdleSinceMs = Environment.TickCount64;
        connection.IdleTimeoutMs = (long)idleTimeout.TotalMilliseconds;
        var list = _idle.GetOrAdd(connection.Backend, static (_, pool) => new UpstreamIdleList(pool._loopCount, pool._maxIdlePerBackend), this);
        if (!list.TryPush(connection)) connection.Discard(); // full, or retired by the sweep meanwhile (see Sweep)
        else if (_disposed && list.TryPop(connection.Loop, out var raced)) raced!.Discard();
    }

    /// <summary>Closes idle connections that expired, were closed by the backend, or lead to a backend without traffic.</summary>
    public void Sweep()
    {
        // Nothing pooled, nothing to sweep: an idle process allocates nothing here (the walk below allocates).
        if (_idle.IsEmpty) return;
        if (Interlocked.Exchange(ref _sweeping, 1) != 0) return;
        try
        {
            var live = CurrentLive();
            var now = Environment.TickCount64;
            var evicted = new List<UpstreamConnection>();
            foreach (var (backend, list) in _idle)
            {
                var takesTraffic = !_disposed && live.Contains(backend);
                list.RemoveWhere(static (c, s) => !s.takesTraffic || s.now - c.IdleSinceMs >= c.IdleTimeoutMs
                    || c.Connection.ReceiveEnd != Transport.ReceiveEnd.None || c.Connection.PeerClosed, (takesTraffic, now), evicted);
                // Retired first, atomically with pushes: a Return racing with this either landed (the list is not
                // empty and stays) or is refused and closes its connection, which leads to a backend without traffic.
                if (!takesTraffic && list.TryRetireIfEmpty()) _idle.TryRemove(new KeyValuePair<BackendState, UpstreamIdleList>(backend, list));
            }
            foreach (var c in evicted) c.Discard();
        }
        catch (Exception e)
        {
            Log.Error($"upstream pool sweep failed: {e.Message}");
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    /// <summary>True when <paramref name="backend"/> takes new traffic in the current table (shared pool or pinned route, weight above 0).</summary>
    public bool IsLive(BackendState backend) => CurrentLive().Contains(backend);

    private HashSet<BackendState> CurrentLive()
    {
        var table = _router.Current;
        var cached = Volatile.Read(ref _live);
        if (cached is not null && ReferenceEquals(cached.Table, table)) return cached.States;
        // Once per published table; racing builders produce equal sets, so the last write is as good as any.
        cached = new LiveBackends(table, BuildLive(table));
        Volatile.Write(ref _live, cached);
        return cached.States;
    }

    private static HashSet<BackendState> BuildLive(RoutingTable table)
    {
        var live = new HashSet<BackendState>(ReferenceEqualityComparer.Instance);
        foreach (var service in table.Services.Values)
        {
            foreach (var pool in service.Pools)
            {
                if (!pool.TakesTraffic) continue; // the one definition: a share, or pinned by a route
                foreach (var b in pool.Backends)
                {
                    if (b.Weight > 0) live.Add(b.State);
                }
            }
        }
        return live;
    }

    /// <summary>Closes every idle connection; later returns close at once.</summary>
    public void Dispose()
    {
        _disposed = true;
        _sweep.Dispose();
        var all = new List<UpstreamConnection>();
        foreach (var list in _idle.Values) list.RemoveWhere(static (_, _) => true, 0, all);
        foreach (var c in all) c.Discard();
    }

    private sealed class LiveBackends(RoutingTable table, HashSet<BackendState> states)
    {
        public RoutingTable Table { get; } = table;
        public HashSet<BackendState> States { get; } = states;
    }
}
