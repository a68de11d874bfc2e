namespace FastLb.Core.Routing;

/// <summary>
/// Stable 64-bit hashing of balancing keys (client IP, header or cookie value): FNV-1a then a murmur3
/// finalizer so nearby keys spread. Stable across processes, so a restart keeps hash affinity.
/// </summary>
internal static class KeyHash
{
    public static ulong Of(ReadOnlySpan<byte> key)
    {
        var h = 14695981039346656037UL;
        foreach (var b in key)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
