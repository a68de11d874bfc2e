namespace FastLb.Core.Routing;

/// <summary>
/// Smooth weighted round-robin (nginx, 2012) over a schedule precomputed by <see cref="SmoothWeightedSchedule"/>,
/// indexed by one atomic cursor (<see cref="ScheduleCursor"/>). Pick O(1): one interlocked
/// increment and a division-free modulo.
/// </summary>
internal sealed class RoundRobinPolicy : ISelectionPolicy
{
    private readonly BackendSnapshot[] _slots;
    private readonly FastModulus _modulus;
    private readonly ScheduleCursor _cursor = new();

    public RoundRobinPolicy(BackendSnapshot[] backends)
    {
        var weights = new int[backends.Length];
        for (var i = 0; i < backends.Length; i++) weights[i] = backends[i].PickWeight;
        var schedule = SmoothWeightedSchedule.Build(weights);
        _slots = new BackendSnapshot[schedule.Length];
        for (var i = 0; i < schedule.Length; i++) _slots[i] = backends[schedule[i]];
        _modulus = new FastModulus((uint)Math.Max(1, schedule.Length));
    }

    public BackendSnapshot? Pick(ulong hash, int attempt)
    {
        var slots = _slots;
        if (slots.Length == 0) return null;
        // Backends that take no traffic (unhealthy, ejected, weight 0) have no slot: the table builder left them out.
        return slots[(int)_modulus.Mod(_cursor.Next())];
    }
}
