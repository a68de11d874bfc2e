namespace FastLb.Core.Traffic;

/// <summary>A service's rollout as /metrics reports it: the current or last rollout and the totals since start.</summary>
internal sealed record RolloutFigures(string Service, string Pool, string Phase, bool Active, int Share, int Step, long Started, long Completed, long RolledBack);
