namespace FastLb.Core.Routing;

/// <summary>One pool in one table generation: its share of the service's traffic and its backends.</summary>
internal sealed class PoolSnapshot(string name, int share, BackendSnapshot[] backends, ISelectionPolicy policy)
{
    public string Name { get; } = name;

    /// <summary>Relative share of new traffic (0 = none; pinned routes still reach the pool).</summary>
    public int Share { get; } = share;

    public BackendSnapshot[] Backends { get; } = backends;
    public ISelectionPolicy Policy { get; } = policy;

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
