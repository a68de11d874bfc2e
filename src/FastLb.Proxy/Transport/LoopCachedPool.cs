using Microsoft.Extensions.ObjectPool;

namespace FastLb.Proxy.Transport;

/// <summary>
/// An object pool with a small free list per event loop in front of a shared <see cref="ObjectPool{T}"/>: objects
/// rented and returned on a loop's thread touch nothing another thread writes.
/// </summary>
/// <remarks>
/// The shared pool (a lock-free queue plus a compare-exchange slot) is fine for one thread; with two loops renting
/// the same objects per request its cache lines bounce between cores (perf-results/2026-11-26-loop-balance.md). Only
/// the threads of the owning server's loops keep objects here; any other thread (another server's loops included)
/// uses the shared pool, so a retired thread-pool thread cannot strand any. <see cref="Rented"/> counts per loop too, so counting costs a loop
/// no shared write either.
/// </remarks>
/// <param name="shared">The pool behind the per-loop caches.</param>
/// <param name="loops">The loops that keep caches; null = none (every thread uses <paramref name="shared"/>).</param>
/// <param name="perLoop">Free objects each loop keeps.</param>
internal sealed class LoopCachedPool<T>(ObjectPool<T> shared, EventLoops? loops, int perLoop = LoopCachedPool<T>.DefaultPerLoop) where T : class
{
    public const int DefaultPerLoop = 32;

    private readonly LoopCache?[] _caches = new LoopCache?[loops?.Count ?? 0];
    private int _rentedOffLoop;

    /// <summary>Objects out of the pool now: taken and not yet given back, whichever threads did either.</summary>
    public int Rented
    {
        get
        {
            long rented = Volatile.Read(ref _rentedOffLoop);
            foreach (var cache in _caches) rented += cache is null ? 0 : Volatile.Read(ref cache.Rented);
            return (int)rented;
        }
    }

    public T Get()
    {
        var cache = Current();
        if (cache is null)
        {
            Interlocked.Increment(ref _rentedOffLoop);
            return shared.Get();
        }
        Volatile.Write(ref cache.Rented, cache.Rented + 1);
        if (cache.Count == 0) return shared.Get();
        var item = cache.Items[--cache.Count]!;
        cache.Items[cache.Count] = null;
        return item;
    }

    public void Return(T item) => Return(item, keep: true);

    /// <summary>Gives <paramref name="item"/> back; with <paramref name="keep"/> false it is only counted, not reused.</summary>
    public void Return(T item, bool keep)
    {
        var cache = Current();
        if (cache is null)
        {
            Interlocked.Decrement(ref _rentedOffLoop);
        }
        else
        {
            Volatile.Write(ref cache.Rented, cache.Rented - 1); // may go below 0: taken on another thread
            if (keep && cache.Count < cache.Items.Length)
            {
                cache.Items[cache.Count++] = item;
                return;
            }
        }
        if (keep) shared.Return(item);
    }

    /// <summary>The calling loop's cache (created by that loop on first use), or null off the owning server's loops.</summary>
    private LoopCache? Current()
    {
        var loop = EpollLoop.Current;
        if (loop is null || !ReferenceEquals(loop.Group, loops)) return null;
        return _caches[loop.Id] ?? CreateCache(loop.Id);
    }

    private LoopCache CreateCache(int loop)
    {
        var cache = new LoopCache(perLoop);
        Volatile.Write(ref _caches[loop], cache);
        return cache;
    }

    /// <summary>One loop's free objects and count; allocated by that loop's thread, so it sits apart from the other loops'.</summary>
    private sealed class LoopCache(int capacity)
    {
        public readonly T?[] Items = new T?[capacity];
        public int Count;
        public long Rented;
    }
}
