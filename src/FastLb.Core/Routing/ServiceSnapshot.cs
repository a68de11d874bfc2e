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

    /// <summary>Where this service's fallbacks are counted; set when the service has `fallback:`.</summary>
    public FallbackCounters? Fallbacks { get; init; }
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

    /// <summary>
    /// Picks a pool by share (by hash for hash balancing), then a backend in it. When the pool has nothing to give
    /// because the operator weighted every backend 0, the other shared pools are tried; when it has backends but none
    /// is healthy, the answer is null with <paramref name="pool"/> set (503): traffic never moves silently to another pool.
    /// </summary>
    public BackendSnapshot? Pick(ulong hash, int attempt, out PoolSnapshot? pool)
    {
        var slots = _poolSlots;
        pool = null;
        if (slots.Length == 0) return null;
        PoolSnapshot chosen;
        if (Config.Balance == BalanceKind.Hash)
        {
            chosen = PoolForHash(hash);
        }
        else if (slots.Length == 1)
        {
            chosen = slots[0]; // one pool takes all traffic (no split): skip the shared cursor and its cache-line traffic
        }
        else
        {
            chosen = slots[_slotModulus.Mod(_cursor.Next())];
        }
        pool = chosen;
        var backend = chosen.Policy.Pick(hash, attempt);
        if (backend is not null || chosen.NothingHealthy) return backend;
        foreach (var other in _sharedPools)
        {
            if (ReferenceEquals(other, chosen)) continue;
            backend = other.Policy.Pick(hash, attempt);
            if (backend is not null)
            {
                pool = other;
                return backend;
            }
        }
        return null;
    }

    /// <summary>See <see cref="Pick(ulong, int, out PoolSnapshot?)"/>.</summary>
    public BackendSnapshot? Pick(ulong hash, int attempt) => Pick(hash, attempt, out _);

    /// <summary>
    /// The pick for one connect attempt: like <see cref="Pick(ulong, int, out PoolSnapshot?)"/> (or the pinned pool's
    /// pick), re-picking a bounded number of times while the result is a backend this connection already tried, or one
    /// the data plane ejected since this table was built. The round-robin cursor is shared by every loop (other picks
    /// land between two tries) and a weighted schedule repeats heavy backends, so "the next slot" alone could name the
    /// same backend again. <paramref name="pool"/> is the pool the pick came from (for a 503 that names it).
    /// </summary>
    public BackendSnapshot? PickForAttempt(PoolSnapshot? pinned, ulong hash, int attempt, BackendSnapshot? triedA, BackendSnapshot? triedB, out PoolSnapshot? pool)
    {
        BackendSnapshot? backend = null;
        pool = pinned;
        for (var i = 0; i < MaxRepicks; i++)
        {
            backend = pinned is null ? Pick(hash, attempt + i, out pool) : pinned.Policy.Pick(hash, attempt + i);
            if (backend is null) return null;
            if (!ReferenceEquals(backend, triedA) && !ReferenceEquals(backend, triedB) && !backend.State.Health.EjectionMarked) return backend;
        }
        // Random draws (least_request, random) can name tried backends several times in a row: scan for one that
        // takes traffic and was not tried, else let the caller try the last pick again.
        return ScanUntried(pinned, triedA, triedB) ?? backend;
    }

    public BackendSnapshot? PickForAttempt(PoolSnapshot? pinned, ulong hash, int attempt, BackendSnapshot? triedA, BackendSnapshot? triedB) =>
        PickForAttempt(pinned, hash, attempt, triedA, triedB, out _);

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
            if (b.Routable && !b.State.Health.EjectionMarked && !ReferenceEquals(b, triedA) && !ReferenceEquals(b, triedB)) return b;
        }
        return null;
    }

    private const int MaxRepicks = 8;


    /// <summary>More than one pool has a share: traffic is split, so sticky_split applies.</summary>
    public bool IsSplit => _sharedPools.Length > 1;

    /// <summary>The pool with a share whose name is <paramref name="name"/> (a sticky cookie's value), or null: a pool without share is never sticky.</summary>
    public PoolSnapshot? SharedPoolNamed(ReadOnlySpan<byte> name)
    {
        foreach (var p in _sharedPools)
        {
            if (name.SequenceEqual(p.NameBytes)) return p;
        }
        return null;
    }

    /// <summary>The next pool by share (the same cursor ordinary picks use), for a client that sticky_split assigns now.</summary>
    public PoolSnapshot PoolByShare()
    {
        var slots = _poolSlots;
        return slots.Length == 1 ? slots[0] : slots[_slotModulus.Mod(_cursor.Next())];
    }

    /// <summary>With sticky_split by client_ip during a split: the pool <paramref name="clientHash"/> keeps to; else null (split per request).</summary>
    public PoolSnapshot? StickyPoolForClient(ulong clientHash) =>
        Config.StickySplit is { By: StickyBy.ClientIp } && IsSplit ? PoolForHash(clientHash) : null;

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
