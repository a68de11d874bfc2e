namespace FastLb.Core.Routing;

/// <summary>One pool in one table generation: its share of the service's traffic, its backends and its health view.</summary>
internal sealed class PoolSnapshot(string name, int share, BackendSnapshot[] backends, ISelectionPolicy policy, bool panic = false)
{
    public string Name { get; } = name;

    /// <summary>The name in ASCII (pool names are tokens), to match a sticky cookie's value without decoding it.</summary>
    public byte[] NameBytes { get; } = System.Text.Encoding.ASCII.GetBytes(name);

    /// <summary>`Set-Cookie: COOKIE=POOL; ...` plus CRLF for a client this pool was assigned to by share (sticky_split by cookie), else null.</summary>
    public byte[]? StickyCookieHeader { get; init; }

    /// <summary>Relative share of new traffic (0 = none; pinned routes still reach the pool).</summary>
    public int Share { get; } = share;

    public BackendSnapshot[] Backends { get; } = backends;
    public ISelectionPolicy Policy { get; } = policy;

    /// <summary>A route of this generation pins the pool (preview): it takes traffic even with share 0.</summary>
    public bool Pinned { get; init; }

    /// <summary>
    /// The one definition of "takes traffic", used by drains, the upstream pool sweep and status: a share above 0, or
    /// pinned by a route of the current table.
    /// </summary>
    public bool TakesTraffic => Share > 0 || Pinned;

    /// <summary>True when fewer than panic_threshold percent of the backends are healthy, so health is ignored.</summary>
    public bool Panic { get; } = panic;

    /// <summary>Backends with weight above 0 whose own health lets them take traffic (panic aside); set by the builder.</summary>
    public int HealthyCount
    {
        get
        {
            if (_healthyCount is { } n) return n;
            n = 0;
            foreach (var b in Backends)
            {
                if (b.Weight > 0 && b.Routable) n++;
            }
            return n;
        }
        init => _healthyCount = value;
    }

    private readonly int? _healthyCount;

    /// <summary>Backends with weight above 0.</summary>
    public int WeightedCount
    {
        get
        {
            var n = 0;
            foreach (var b in Backends)
            {
                if (b.Weight > 0) n++;
            }
            return n;
        }
    }

    /// <summary>True when the pool has backends with weight but none of them may take traffic: answer 503, never fall over to another pool.</summary>
    public bool NothingHealthy
    {
        get
        {
            var weighted = false;
            foreach (var b in Backends)
            {
                if (b.Routable) return false;
                weighted |= b.Weight > 0;
            }
            return weighted;
        }
    }

    /// <summary>Live connections (TCP) or requests in flight (HTTP) over all backends.</summary>
    public int Live
    {
        get
        {
            var n = 0;
            foreach (var b in Backends) n += b.State.Live;
            return n;
        }
    }
}
