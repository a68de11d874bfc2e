using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>A service in one table generation: pools, their shares, and the pool schedule that composes the split with backend weights.</summary>
internal sealed class ServiceSnapshot
{
    private readonly PoolSnapshot[] _poolSlots;   // smooth weighted schedule over pool shares
    private readonly PoolSnapshot[] _sharedPools; // pools with share > 0, for fallback and hashing
    private readonly int _totalShare;
    private readonly FastModulus _slotModulus;
    private readonly ScheduleCursor _cursor = new();

    public ServiceSnapshot(ServiceConfig config, PoolSnapshot[] pools)
    {
        Config = config;
        Pools = pools;
        var shares = new int[pools.Length];
        var shared = new List<PoolSnapshot>();
        for (var i = 0; i < pools.Length; i++)
        {
            shares[i] = pools[i].Share;
            if (pools[i].Share > 0)
            {
                shared.Add(pools[i]);
                _totalShare += pools[i].Share;
            }
        }
        var schedule = SmoothWeightedSchedule.Build(shares);
        _poolSlots = new PoolSnapshot[schedule.Length];
        for (var i = 0; i < schedule.Length; i++) _poolSlots[i] = pools[schedule[i]];
        _sharedPools = [.. shared];
        _slotModulus = new FastModulus((uint)Math.Max(1, _poolSlots.Length));
    }

    public ServiceConfig Config { get; }
    public string Name => Config.Name;
    public PoolSnapshot[] Pools { get; }

    public PoolSnapshot? FindPool(string name)
    {
        foreach (var p in Pools)
        {
            if (p.Name == name) return p;
        }
        return null;
    }

    /// <summary>Picks a pool by share (by hash for hash balancing), then a backend in it; falls over to other shared pools when the chosen one has nothing to give.</summary>
    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var slots = _poolSlots;
        if (slots.Length == 0) return null;
        PoolSnapshot pool;
        if (Config.Balance == BalanceKind.Hash)
        {
            pool = PoolForHash(hash);
        }
        else if (slots.Length == 1)
        {
            pool = slots[0]; // one pool takes all traffic (no split): skip the shared cursor and its cache-line traffic
        }
        else
        {
            pool = slots[_slotModulus.Mod(_cursor.Next())];
        }
        var backend = pool.Policy.Pick(hash, attempt);
        if (backend is not null) return backend;
        foreach (var other in _sharedPools)
        {
            if (ReferenceEquals(other, pool)) continue;
            backend = other.Policy.Pick(hash, attempt);
            if (backend is not null) return backend;
        }
        return null;
    }

    /// <summary>
    /// The pick for one connect attempt: like <see cref="Pick"/> (or the pinned pool's pick), re-picking a bounded
    /// number of times while the result is a backend this connection already tried. The round-robin cursor is shared
    /// by every loop (other picks land between two tries) and a weighted schedule repeats heavy backends, so "the next
    /// slot" alone could name the same backend again.
    /// </summary>
    public BackendSnapshot? PickForAttempt(PoolSnapshot? pinned, ulong hash, int attempt, BackendSnapshot? triedA, BackendSnapshot? triedB)
    {
        BackendSnapshot? backend = null;
        for (var i = 0; i < MaxRepicks; i++)
        {
            backend = pinned is null ? Pick(hash, attempt + i) : pinned.Policy.Pick(hash, attempt + i);
            if (backend is null || (!ReferenceEquals(backend, triedA) && !ReferenceEquals(backend, triedB))) return backend;
        }
        // Random draws (least_request, random) can name tried backends several times in a row: scan for one that
        // takes traffic and was not tried, else let the caller try the last pick again.
        return ScanUntried(pinned, triedA, triedB) ?? backend;
    }

    private BackendSnapshot? ScanUntried(PoolSnapshot? pinned, BackendSnapshot? triedA, BackendSnapshot? triedB)
    {
        if (pinned is not null) return ScanUntried(pinned.Backends, triedA, triedB);
        foreach (var pool in _sharedPools)
        {
            if (ScanUntried(pool.Backends, triedA, triedB) is { } found) return found;
        }
        return null;
    }

    private static BackendSnapshot? ScanUntried(BackendSnapshot[] backends, BackendSnapshot? triedA, BackendSnapshot? triedB)
    {
        foreach (var b in backends)
        {
            if (b.Weight > 0 && b.State.Healthy && !ReferenceEquals(b, triedA) && !ReferenceEquals(b, triedB)) return b;
        }
        return null;
    }

    private const int MaxRepicks = 8;


    private PoolSnapshot PoolForHash(ulong hash)
    {
        // Mix the key so pool choice and Maglev slot are independent, then walk cumulative shares.
        var point = (int)(Mix(hash) % (ulong)_totalShare);
        foreach (var p in _sharedPools)
        {
            if (point < p.Share) return p;
            point -= p.Share;
        }
        return _sharedPools[^1];
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33;
        return x;
    }
}
