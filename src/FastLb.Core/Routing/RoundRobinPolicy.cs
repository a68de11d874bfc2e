namespace FastLb.Core.Routing;

/// <summary>Smooth weighted round-robin over a precomputed schedule, indexed by one atomic cursor.</summary>
internal sealed class RoundRobinPolicy : ISelectionPolicy
{
    private readonly BackendSnapshot[] _slots;
    private int _cursor = -1;

    public RoundRobinPolicy(BackendSnapshot[] backends)
    {
        var weights = new int[backends.Length];
        for (var i = 0; i < backends.Length; i++) weights[i] = backends[i].Weight;
        var schedule = SmoothWeightedSchedule.Build(weights);
        _slots = new BackendSnapshot[schedule.Length];
        for (var i = 0; i < schedule.Length; i++) _slots[i] = backends[schedule[i]];
    }

    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var slots = _slots;
        if (slots.Length == 0) return null;
        var start = (uint)Interlocked.Increment(ref _cursor);
        // Skip unhealthy backends for a bounded number of slots; if all are down, fail open.
        var limit = Math.Min(slots.Length, 16);
        for (var i = 0; i < limit; i++)
        {
            var b = slots[(int)((start + (uint)i) % (uint)slots.Length)];
            if (b.State.Healthy) return b;
        }
        return slots[(int)(start % (uint)slots.Length)];
    }
}
