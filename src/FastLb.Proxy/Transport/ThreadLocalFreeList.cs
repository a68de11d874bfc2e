namespace FastLb.Proxy.Transport;

/// <summary>
/// A few free objects of one type kept per thread, so a connection holds none while idle and a request allocates none.
/// Objects may come back on another thread than the one that took them; each thread keeps at most 32.
/// </summary>
internal static class ThreadLocalFreeList<T> where T : class, new()
{
    private const int Capacity = 32;

    [ThreadStatic]
    private static T?[]? t_free;

    [ThreadStatic]
    private static int t_count;

    public static T Rent()
    {
        var free = t_free;
        if (free is null || t_count == 0) return new T();
        var item = free[--t_count]!;
        free[t_count] = null;
        return item;
    }

    /// <summary>Keeps <paramref name="item"/> for reuse on this thread; the caller has cleared it and holds it no more.</summary>
    public static void Return(T item)
    {
        var free = t_free ??= new T?[Capacity];
        if (t_count < free.Length) free[t_count++] = item;
    }
}
