namespace FastLb.Core.Metrics;

/// <summary>
/// Which per-thread shard of a counter set the calling thread writes: each event loop has its own (it is the only
/// writer there, so adding is a plain store), every other thread shares shard 0 (added with interlocked operations).
/// </summary>
internal static class CounterShard
{
    /// <summary>Shards per counter set: shard 0 for non-loop threads plus one per loop; loops beyond share shard 0.</summary>
    public const int Count = 65;

    private static int _entered;

    [ThreadStatic]
    private static int t_index;

    /// <summary>The calling thread's shard (0 unless the thread called <see cref="Enter"/>).</summary>
    public static int Current => t_index;

    /// <summary>Makes the calling thread (an event loop, which lives until its server stops) the single writer of a shard of its own.</summary>
    /// <remarks>Shards are never handed out twice, so two loops never share one; past 64 loops in a process (tests start many servers), loops use shard 0.</remarks>
    public static void Enter()
    {
        if (t_index != 0) return;
        var next = Interlocked.Increment(ref _entered);
        t_index = next < Count ? next : 0;
    }
}
