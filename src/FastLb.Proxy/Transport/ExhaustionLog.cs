using FastLb.Core.Diagnostics;

namespace FastLb.Proxy.Transport;

/// <summary>
/// Counts one kind of resource failure (accept at EMFILE, a refused connect, a pipe that could not be made) and logs
/// it at most once per interval with the count since the last line, so exhaustion is visible without flooding the log.
/// </summary>
internal sealed class ExhaustionLog(string what, long intervalMs = 10_000)
{
    private long _count;
    private long _total;
    private long _lastLogMs = long.MinValue / 2;

    /// <summary>Failures recorded since start.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Counts one failure; logs "WHAT: N time(s) in the last Ts (DETAIL)" when the interval has passed.</summary>
    public void Record(string detail)
    {
        Interlocked.Increment(ref _total);
        Interlocked.Increment(ref _count);
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastLogMs);
        if (now - last < intervalMs) return;
        if (Interlocked.CompareExchange(ref _lastLogMs, now, last) != last) return;
        var n = Interlocked.Exchange(ref _count, 0);
        var since = last < 0 ? "" : $" in the last {(now - last) / 1000.0:0.#}s";
        Log.Warn($"{what}: {n} time(s){since} ({detail})");
    }
}
