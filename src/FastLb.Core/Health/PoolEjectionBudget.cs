namespace FastLb.Core.Health;

/// <summary>
/// Enforces <c>max_ejected_percent</c> for one pool: an ejection is granted only while fewer than that share of the
/// pool's backends are ejected. Survives swaps (kept per service/pool); the table builder hands it the pool's members.
/// </summary>
/// <remarks>Ejections are rare (the n-th failure in a row), so a lock here costs nothing on the request path.</remarks>
internal sealed class PoolEjectionBudget
{
    private readonly Lock _lock = new();
    private BackendHealth[] _members = [];

    /// <summary>The pool's backends in the current table.</summary>
    public void SetMembers(BackendHealth[] members)
    {
        lock (_lock) _members = members;
    }

    /// <summary>Marks <paramref name="candidate"/> ejected until <paramref name="untilTicks"/> if the budget allows; false when it would exceed it.</summary>
    public bool TryEject(BackendHealth candidate, int maxPercent, DateTimeOffset now, Func<BackendHealth, long> untilTicks)
    {
        lock (_lock)
        {
            var members = _members;
            var ejected = 0;
            foreach (var m in members)
            {
                if (m.IsEjected(now)) ejected++;
            }
            // "never more than max_ejected_percent of a pool at once": (ejected + 1) / total <= percent.
            if (members.Length == 0 || (long)(ejected + 1) * 100 > (long)members.Length * maxPercent) return false;
            return candidate.MarkEjected(untilTicks(candidate), now);
        }
    }
}
