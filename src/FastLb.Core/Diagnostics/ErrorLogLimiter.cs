namespace FastLb.Core.Diagnostics;

/// <summary>
/// Bounds how many per-request error lines (FastLb's own 4xx/5xx answers, connect failures, resets) reach the process
/// log: at most <see cref="LinesPerSecond"/> a second; the others are counted and the next line written says how many.
/// </summary>
/// <remarks>Lock-free: a line that is refused costs two interlocked operations and formats nothing.</remarks>
internal sealed class ErrorLogLimiter(int linesPerSecond)
{
    public const int LinesPerSecond = 5;

    /// <summary>The limiter every listener's error lines share.</summary>
    public static readonly ErrorLogLimiter Shared = new(LinesPerSecond);

    private long _second;
    private int _used;
    private long _pendingSuppressed;
    private long _suppressed;

    /// <summary>Lines refused since the process started.</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>True when a line may be written now; <paramref name="suppressed"/> is how many were refused since the last one written.</summary>
    public bool TryAcquire(out long suppressed)
    {
        var second = Environment.TickCount64 / 1000;
        var current = Interlocked.Read(ref _second);
        if (second != current && Interlocked.CompareExchange(ref _second, second, current) == current)
        {
            Interlocked.Exchange(ref _used, 0);
        }
        if (Interlocked.Increment(ref _used) > linesPerSecond)
        {
            Interlocked.Increment(ref _pendingSuppressed);
            Interlocked.Increment(ref _suppressed);
            suppressed = 0;
            return false;
        }
        suppressed = Interlocked.Exchange(ref _pendingSuppressed, 0);
        return true;
    }
}
