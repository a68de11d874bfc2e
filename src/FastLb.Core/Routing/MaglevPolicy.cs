namespace FastLb.Core.Routing;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
/// NSDI 2016, §3.4), weighted. Each backend walks its own permutation of a prime-sized table (offset and skip
/// from a stable hash of its address) and claims its next free slot whenever it has a turn; turns follow the
/// smooth weighted schedule, so slot counts are proportional to weight. Build O(M log M) expected for table
/// size M (the smallest prime ≥ max(65537, 100·n)); Pick O(1): one mix, one multiply-shift, two loads.
/// Retries (attempt &gt; 0) rehash with the attempt mixed in and skip the first choice, so they go elsewhere.
/// </summary>
internal sealed class MaglevPolicy : ISelectionPolicy
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private readonly BackendSnapshot[] _positive;
    private readonly int[] _table;
    private readonly ulong _size;

    public MaglevPolicy(BackendSnapshot[] backends)
    {
        _positive = SelectionHelpers.Weighted(backends);
        _table = _positive.Length == 0 ? [] : Populate(_positive, TableSize(_positive.Length));
        _size = (ulong)_table.Length;
    }

    /// <summary>The lookup table: one index into the positive-weight backends per slot (tests read it).</summary>
    internal ReadOnlySpan<int> Table => _table;

    internal BackendSnapshot[] Backends => _positive;

    /// <remarks>Built over configured weights, so a health change moves only the keys of the backend it concerns; backends that take no traffic are stepped over at pick time.</remarks>
    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        if (_table.Length == 0) return null;
        var b = At(hash);
        if (attempt == 0 && b.Routable) return b;
        return PickElsewhere(hash, attempt, b);
    }

    /// <summary>The backend owning <paramref name="key"/>'s slot.</summary>
    private BackendSnapshot At(ulong key)
    {
        // Callers' keys may be raw addresses with few varying bits; mix, then map the top 32 bits onto [0, M).
        var slot = ((Mix(key) >> 32) * _size) >> 32;
        return _positive[_table[slot]];
    }

    private BackendSnapshot? PickElsewhere(ulong hash, int attempt, BackendSnapshot primary)
    {
        // Deterministic per key: the same key, attempt and health view always lead to the same backend.
        // A retry must leave the first choice; a first try only needs to leave one that takes no traffic.
        var exclude = attempt > 0 && _positive.Length > 1 ? primary : null;
        var salt = (ulong)attempt * (SelectionHelpers.HealthProbes + 1);
        for (var k = 1; k <= SelectionHelpers.HealthProbes; k++)
        {
            var b = At(hash + (salt + (ulong)k) * Golden);
            if (ReferenceEquals(b, exclude)) continue;
            if (b.Routable) return b;
        }
        // Probes can keep landing on a heavy first choice; scan the pool so a retry still finds another backend.
        var start = (uint)(Mix(hash) >> 32);
        // Nothing else takes traffic: a retry goes back to a routable first choice; none at all answers 503.
        return SelectionHelpers.ScanHealthy(_positive, start, exclude) ?? (primary.Routable ? primary : null);
    }

    /// <summary>The smallest prime ≥ max(65537, 100·n), so each backend owns ≥ 100 slots on average.</summary>
    internal static int TableSize(int backends)
    {
        var m = Math.Max(65537L, 100L * backends);
        while (!IsPrime(m)) m++;
        if (m > Array.MaxLength) throw new ArgumentException($"{backends} backends need a Maglev table of {m} slots; too many for one pool");
        return (int)m;
    }

    private static int[] Populate(BackendSnapshot[] backends, int m)
    {
        var n = backends.Length;
        var next = new long[n]; // each backend's current position in its permutation
        var skip = new long[n];
        for (var i = 0; i < n; i++)
        {
            var address = backends[i].Address;
            next[i] = (long)(StableHash(address, 0x6D61676C65763031UL) % (ulong)m);
            skip[i] = (long)(StableHash(address, 0x6D61676C65763032UL) % (ulong)(m - 1)) + 1;
        }
        var weights = new int[n];
        for (var i = 0; i < n; i++) weights[i] = backends[i].Weight;
        var turns = SmoothWeightedSchedule.Build(weights);

        var table = new int[m];
        table.AsSpan().Fill(-1);
        var filled = 0;
        while (true)
        {
            foreach (var i in turns)
            {
                // m is prime and 0 < skip < m, so the walk visits every slot and always finds a free one.
                var c = next[i];
                while (table[c] >= 0)
                {
                    c += skip[i];
                    if (c >= m) c -= m;
                }
                table[c] = i;
                c += skip[i];
                next[i] = c >= m ? c - m : c;
                if (++filled == m) return table;
            }
        }
    }

    /// <summary>FNV-1a over the UTF-16 code units, finished with a 64-bit avalanche; stable across processes and machines.</summary>
    private static ulong StableHash(string s, ulong seed)
    {
        var h = 0xcbf29ce484222325UL ^ seed;
        foreach (var ch in s)
        {
            h ^= ch;
            h *= 0x100000001b3UL;
        }
        return Mix(h);
    }

    /// <summary>SplitMix64's finalizer (Steele, Lea and Flood, 2014); deliberately not ServiceSnapshot's mixer, so pool and slot choices stay independent.</summary>
    private static ulong Mix(ulong x)
    {
        x += Golden;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static bool IsPrime(long v)
    {
        if (v < 2) return false;
        if (v % 2 == 0) return v == 2;
        for (long d = 3; d * d <= v; d += 2)
        {
            if (v % d == 0) return false;
        }
        return true;
    }
}
