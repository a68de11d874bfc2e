namespace FastLb.Core.Routing;

/// <summary>Build-time and cold-path helpers shared by the selection policies.</summary>
internal static class SelectionHelpers
{
    /// <summary>How many extra draws the hash policy makes past backends that take no traffic before scanning the pool.</summary>
    public const int HealthProbes = 16;

    /// <summary>The backends a pick may return (<see cref="BackendSnapshot.PickWeight"/> &gt; 0), in pool order.</summary>
    public static BackendSnapshot[] Positive(BackendSnapshot[] backends) => Where(backends, static b => b.PickWeight > 0);

    /// <summary>The backends with configured weight &gt; 0, healthy or not (the hash policy keeps keys in place across health changes).</summary>
    public static BackendSnapshot[] Weighted(BackendSnapshot[] backends) => Where(backends, static b => b.Weight > 0);

    private static BackendSnapshot[] Where(BackendSnapshot[] backends, Func<BackendSnapshot, bool> keep)
    {
        var n = 0;
        foreach (var b in backends)
        {
            if (keep(b)) n++;
        }
        var result = new BackendSnapshot[n];
        n = 0;
        foreach (var b in backends)
        {
            if (keep(b)) result[n++] = b;
        }
        return result;
    }

    /// <summary>
    /// Indexes into <paramref name="positive"/>, each repeated weight/gcd times, so a uniform draw over the
    /// result is a weight-proportional draw over the backends. Order does not matter, so this is O(W), not a schedule.
    /// </summary>
    public static int[] ExpandSlots(BackendSnapshot[] positive)
    {
        if (positive.Length == 0) return [];
        var weights = new int[positive.Length];
        long sum = 0;
        for (var i = 0; i < positive.Length; i++)
        {
            weights[i] = positive[i].PickWeight;
            sum += weights[i];
        }
        // Huge coprime weights would need billions of slots: scale them like the round-robin schedule does.
        if (sum > SmoothWeightedSchedule.MaxSlots) weights = SmoothWeightedSchedule.ScaleDown(weights, sum);
        var g = 0;
        long total = 0;
        foreach (var w in weights)
        {
            g = g == 0 ? w : Gcd(g, w);
            total += w;
        }
        total /= g;
        var slots = new int[total];
        var k = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            var reps = weights[i] / g;
            slots.AsSpan(k, reps).Fill(i);
            k += reps;
        }
        return slots;
    }

    /// <summary>Maps 32 uniform bits onto [0, n) with one multiply (Lemire, 2019); bias ≤ n / 2^32.</summary>
    public static uint Reduce(uint x, uint n) => (uint)(((ulong)x * n) >> 32);

    /// <summary>Cold path: the first routable backend at or after <paramref name="start"/> (wrapping), other than <paramref name="exclude"/>; null if none.</summary>
    public static BackendSnapshot? ScanHealthy(BackendSnapshot[] backends, uint start, BackendSnapshot? exclude)
    {
        var n = backends.Length;
        if (n == 0) return null;
        var i = (int)(start % (uint)n);
        for (var k = 0; k < n; k++)
        {
            var b = backends[i];
            if (b.Routable && !ReferenceEquals(b, exclude)) return b;
            if (++i == n) i = 0;
        }
        return null;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
