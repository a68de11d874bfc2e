using FastLb.Core.Diagnostics;

namespace FastLb.Proxy;

/// <summary>
/// Counts the parked HTTP connections of a server and gives the memory their released objects held back to the
/// system once nothing else is going on.
/// </summary>
/// <remarks>
/// A connection that parks (Http/ParkedHttpConnection.cs) drops about 2 KB of objects, but the garbage collector runs
/// only when something allocates: a process whose clients all went idle would keep that memory resident until
/// traffic returned. So when every open connection is parked (no request or relay in flight anywhere, nothing a pause
/// could delay) and at least <see cref="TrimAfterParks"/> connections parked since the last trim, the heartbeat runs
/// one compacting collection that also returns the freed memory to the system; at most once every
/// <see cref="MinTrimIntervalMs"/>. Under traffic it never runs: the collector reclaims the same memory as it goes.
/// </remarks>
internal sealed class IdleMemoryTrim
{
    /// <summary>Parks (about 2 KB released each) that make a trim worth its pause.</summary>
    internal const int TrimAfterParks = 1024;

    internal const long MinTrimIntervalMs = 30_000;

    private int _parked;
    private int _parkedSinceTrim;
    private long _lastTrimMs = long.MinValue / 2;

    /// <summary>Connections parked now.</summary>
    public int Parked => Volatile.Read(ref _parked);

    public void ConnectionParked()
    {
        Interlocked.Increment(ref _parked);
        Interlocked.Increment(ref _parkedSinceTrim);
    }

    public void ConnectionResumed() => Interlocked.Decrement(ref _parked);

    /// <summary>Heartbeat thread: trims when the server is quiet (see remarks); <paramref name="liveConnections"/> counts every open client connection.</summary>
    public void OnHeartbeat(long nowMs, int liveConnections)
    {
        if (Volatile.Read(ref _parkedSinceTrim) < TrimAfterParks) return;
        if (nowMs - _lastTrimMs < MinTrimIntervalMs) return;
        var parked = Volatile.Read(ref _parked);
        if (parked == 0 || liveConnections > parked) return;
        _lastTrimMs = nowMs;
        Volatile.Write(ref _parkedSinceTrim, 0);
        var before = GC.GetTotalMemory(forceFullCollection: false);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        Log.Info($"idle memory trim: {parked} parked connection(s) and nothing in flight; heap {before / 1024} KiB -> {GC.GetTotalMemory(false) / 1024} KiB in {ms:0.0} ms");
    }
}
