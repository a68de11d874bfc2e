namespace FastLb.Core.Routing;

/// <summary>
/// A round-robin cursor split per thread: each thread is given a stripe once (threads take stripes in turn) and
/// increments that stripe's counter on its own cache line, so picks from several event loops at once do not bounce
/// one line between cores (one shared counter cost 30-50 ns a pick with two threads; perf-results/2026-11-26-routing.md).
/// Each stripe walks the whole schedule from slot 0, so a thread sees the exact smooth order, and shares stay exact
/// over every full cycle of each stripe. A stripe follows the thread, not the CPU, so a migrating thread keeps its order.
/// </summary>
internal sealed class StripedCursor
{
    // 32 ints = 128 bytes between counters: a cache line each, plus the neighbour the adjacent-line prefetcher
    // pulls in with it; the first counter also starts 128 bytes past the array header.
    private const int Stride = 32;
    private static readonly int StripeMask = StripeCount() - 1;
    private static int _nextStripe = -1;

    [ThreadStatic]
    private static int t_stripe; // 1-based so that 0 means "not assigned yet"

    private readonly int[] _cells = new int[(StripeMask + 2) * Stride];

    public StripedCursor()
    {
        for (var i = Stride; i < _cells.Length; i += Stride) _cells[i] = -1;
    }

    /// <summary>The next position for the calling thread's stripe (wraps at 2^32).</summary>
    public uint Next()
    {
        var stripe = t_stripe;
        if (stripe == 0) stripe = AssignStripe();
        return (uint)Interlocked.Increment(ref _cells[stripe * Stride]);
    }

    private static int AssignStripe() => t_stripe = (Interlocked.Increment(ref _nextStripe) & StripeMask) + 1;

    private static int StripeCount()
    {
        var n = 1;
        while (n < Environment.ProcessorCount && n < 64) n <<= 1;
        return n;
    }
}
