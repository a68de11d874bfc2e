namespace FastLb.Core.Routing;

/// <summary>
/// The position in a precomputed schedule (round robin over backends, smooth split over pools): one atomic counter
/// shared by every thread, so picks follow one global smooth order whichever event loop serves the connection.
/// </summary>
/// <remarks>
/// A counter per thread was tried (perf-results/2026-11-26-routing.md): it saved 25-45 ns per pick when two threads
/// pick at once, but each loop then walked the schedule on its own, and consecutive connections served by
/// alternating loops went blue-1, blue-1, blue-2, blue-2 — not what an operator checking round robin with curl
/// expects. A request costs about 15 µs of CPU here, so the shared counter is worth its cache line. The counter sits
/// 128 bytes from anything else (a cache line plus the adjacent-line prefetch pair), so only picks contend for it.
/// </remarks>
internal sealed class ScheduleCursor
{
    private const int Padding = 16; // longs: 128 bytes on each side of the counter

    private readonly long[] _cell = new long[2 * Padding + 1];

    public ScheduleCursor()
    {
        _cell[Padding] = -1; // the first Next() answers 0
    }

    /// <summary>The next position (wraps at 2^32).</summary>
    public uint Next() => (uint)Interlocked.Increment(ref _cell[Padding]);
}
