namespace FastLb.Core.Routing;

/// <summary>
/// Smooth weighted round-robin (nginx, 2012) over a schedule precomputed by <see cref="SmoothWeightedSchedule"/>,
/// indexed by one atomic cursor (<see cref="ScheduleCursor"/>). Pick O(1): one interlocked
/// increment and a division-free modulo.
/// </summary>
internal sealed class RoundRobinPolicy : ISelectionPolicy
{
    private readonly BackendSnapshot[] _slots;
    private readonly BackendSnapshot[] _positive;
    private readonly FastModulus _modulus;
    private readonly ScheduleCursor _cursor = new();

    public RoundRobinPolicy(BackendSnapshot[] backends)
    {
        var weights = new int[backends.Length];
        for (var i = 0; i < backends.Length; i++) weights[i] = backends[i].Weight;
        var schedule = SmoothWeightedSchedule.Build(weights);
        _slots = new BackendSnapshot[schedule.Length];
        for (var i = 0; i < schedule.Length; i++) _slots[i] = backends[schedule[i]];
        _positive = SelectionHelpers.Positive(backends);
        _modulus = new FastModulus((uint)Math.Max(1, schedule.Length));
    }

    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var slots = _slots;
        if (slots.Length == 0) return null;
        var start = (int)_modulus.Mod(_cursor.Next());
        var b = slots[start];
        return b.State.Healthy ? b : PickPastUnhealthy(start);
    }

    private BackendSnapshot PickPastUnhealthy(int start)
    {
        // Walk the schedule a bounded number of slots, then scan the pool once; if all are down, fail open.
        var slots = _slots;
        var i = start;
        var limit = Math.Min(slots.Length, SelectionHelpers.HealthProbes);
        for (var k = 1; k < limit; k++)
        {
            if (++i == slots.Length) i = 0;
            if (slots[i].State.Healthy) return slots[i];
        }
        return SelectionHelpers.ScanHealthy(_positive, (uint)start, null) ?? slots[start];
    }
}
