namespace FastLb.Core.Routing;

/// <summary>
/// Least request by power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
/// Balancing", 2001). Weighted both ways: the two candidates are drawn in proportion to weight (so when every
/// backend is idle traffic still follows the weights), and they are compared by Live/Weight (so under load each
/// backend's requests in flight track its weight); a tie goes to the first draw. Pick O(1): one 64-bit draw
/// (two 32-bit halves), two live-count reads, two multiplies; build O(W).
/// </summary>
internal sealed class LeastRequestPolicy : ISelectionPolicy
{
    private readonly BackendSnapshot[] _positive;
    private readonly int[] _slots;
    private readonly Random? _random;

    /// <param name="random">A seeded source for tests; null (production) uses <see cref="ThreadRandom"/>.</param>
    public LeastRequestPolicy(BackendSnapshot[] backends, Random? random = null)
    {
        _positive = SelectionHelpers.Positive(backends);
        _slots = SelectionHelpers.ExpandSlots(_positive);
        _random = random;
    }

    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var positive = _positive;
        if (positive.Length <= 1) return positive.Length == 0 ? null : positive[0];
        var (a, b) = DrawPair(ThreadRandom.Next(_random));
        return Lighter(a, b);
    }

    private (BackendSnapshot A, BackendSnapshot B) DrawPair(ulong r)
    {
        var slots = _slots;
        var positive = _positive;
        var ia = slots[SelectionHelpers.Reduce((uint)r, (uint)slots.Length)];
        var ib = slots[SelectionHelpers.Reduce((uint)(r >> 32), (uint)slots.Length)];
        if (ia == ib)
        {
            // Same backend twice: compare against a different one, uniformly among the rest (rare with many backends).
            ib = ia + 1 + (int)SelectionHelpers.Reduce((uint)(r >> 16), (uint)positive.Length - 1);
            if (ib >= positive.Length) ib -= positive.Length;
        }
        return (positive[ia], positive[ib]);
    }

    private static BackendSnapshot Lighter(BackendSnapshot a, BackendSnapshot b)
    {
        // Live(a)/Weight(a) <= Live(b)/Weight(b), cross-multiplied; weights are > 0.
        return (long)a.State.Live * b.PickWeight <= (long)b.State.Live * a.PickWeight ? a : b;
    }
}
