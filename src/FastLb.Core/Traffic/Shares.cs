namespace FastLb.Core.Traffic;

/// <summary>Helpers for pool-share maps (pool name → share), kept in pool order.</summary>
internal static class Shares
{
    public static bool SameAs(IReadOnlyDictionary<string, int> a, IReadOnlyDictionary<string, int> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (pool, share) in a)
        {
            if (!b.TryGetValue(pool, out var other) || other != share) return false;
        }
        return true;
    }

    public static string Describe(IReadOnlyDictionary<string, int> shares)
    {
        var total = 0;
        foreach (var s in shares.Values) total += s;
        var parts = new List<string>();
        foreach (var (pool, share) in shares)
        {
            parts.Add(total == 0 ? $"{pool}=0" : $"{pool}={share}");
        }
        return string.Join(" ", parts);
    }

    /// <summary>Shares normalized to percent (sum 100, rounding kept stable) for status output.</summary>
    public static Dictionary<string, int> Percent(IReadOnlyDictionary<string, int> shares)
    {
        var total = 0;
        foreach (var s in shares.Values) total += s;
        var result = new Dictionary<string, int>();
        foreach (var (pool, share) in shares)
        {
            result[pool] = total == 0 ? 0 : (int)Math.Round(share * 100.0 / total);
        }
        return result;
    }
}
