using Microsoft.Extensions.ObjectPool;

namespace FastLb.Proxy.Transport;

/// <summary>
/// An object pool with a small free list per event loop in front of a shared <see cref="ObjectPool{T}"/>: objects
/// rented and returned on a loop's thread touch nothing another thread writes.
/// </summary>
/// <remarks>
/// The shared pool (a lock-free queue plus a compare-exchange slot) is fine for one thread; with two loops renting
/// the same objects per request its cache lines bounce between cores (perf-results/2026-11-26-loop-balance.md). Only
/// loop threads, which live as long as the process, keep objects here; any other thread uses the shared pool, so a
/// retired thread-pool thread cannot strand any.
/// </remarks>
internal sealed class LoopCachedPool<T>(ObjectPool<T> shared, int perLoop = LoopCachedPool<T>.DefaultPerLoop) where T : class
{
    public const int DefaultPerLoop = 32;

    private readonly LoopCache?[] _caches = new LoopCache?[EventLoops.Count];

    public T Get()
    {
        var cache = Current();
        if (cache is not null && cache.Count > 0)
        {
            var item = cache.Items[--cache.Count]!;
            cache.Items[cache.Count] = null;
            return item;
        }
        return shared.Get();
    }

    public void Return(T item)
    {
        var cache = Current();
        if (cache is not null && cache.Count < cache.Items.Length)
        {
            cache.Items[cache.Count++] = item;
            return;
        }
        shared.Return(item);
    }

    /// <summary>The calling loop's cache (created by that loop on first use), or null off the loops.</summary>
    private LoopCache? Current()
    {
        var loop = EpollLoop.CurrentId;
        if ((uint)loop >= (uint)_caches.Length) return null;
        return _caches[loop] ??= new LoopCache(perLoop);
    }

    /// <summary>One loop's free objects; allocated by that loop's thread, so it sits apart from the other loops'.</summary>
    private sealed class LoopCache(int capacity)
    {
        public readonly T?[] Items = new T?[capacity];
        public int Count;
    }
}
