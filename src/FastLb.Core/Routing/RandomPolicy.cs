namespace FastLb.Core.Routing;

/// <summary>
/// Weighted random: a uniform draw over slots in which each backend appears weight/gcd times.
/// Pick O(1): one Random.Shared draw and one multiply-shift reduction; build O(W).
/// </summary>
internal sealed class RandomPolicy : ISelectionPolicy
{
    private readonly BackendSnapshot[] _positive;
    private readonly int[] _slots;
    private readonly Random? _random;

    /// <param name="random">A seeded source for tests; null (production) uses <see cref="ThreadRandom"/>.</param>
    public RandomPolicy(BackendSnapshot[] backends, Random? random = null)
    {
        _positive = SelectionHelpers.Positive(backends);
        _slots = SelectionHelpers.ExpandSlots(_positive);
        _random = random;
    }

    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var slots = _slots;
        if (slots.Length == 0) return null;
        return _positive[slots[SelectionHelpers.Reduce((uint)ThreadRandom.Next(_random), (uint)slots.Length)]];
    }
}
