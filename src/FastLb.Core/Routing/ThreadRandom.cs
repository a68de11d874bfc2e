namespace FastLb.Core.Routing;

/// <summary>
/// Per-thread xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators", 2016):
/// lock-free, allocation-free, one thread-static load and store per draw. Not for secrets.
/// </summary>
internal static class ThreadRandom
{
    [ThreadStatic]
    private static ulong t_state;

    /// <summary>Returns 64 random bits.</summary>
    public static ulong Next()
    {
        var s = t_state;
        if (s == 0) s = Seed();
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        t_state = s;
        return s * 0x2545F4914F6CDD1DUL;
    }

    /// <summary>64 random bits from <paramref name="injected"/> when a test supplies one, else from this thread's generator.</summary>
    public static ulong Next(Random? injected) =>
        injected is null ? Next() : unchecked((ulong)injected.NextInt64(long.MinValue, long.MaxValue));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ulong Seed() => (ulong)Random.Shared.NextInt64() | 1;
}
