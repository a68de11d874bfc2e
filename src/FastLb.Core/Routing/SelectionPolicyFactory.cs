using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>Builds the selection policy of a pool when a table is built.</summary>
internal static class SelectionPolicyFactory
{
    /// <summary>
    /// Creates the policy for <paramref name="backends"/> (every backend of the pool, weight 0 included;
    /// a weight-0 backend is never picked).
    /// </summary>
    public static ISelectionPolicy Create(BalanceKind kind, BackendSnapshot[] backends) => kind switch
    {
        BalanceKind.RoundRobin => new RoundRobinPolicy(backends),
        BalanceKind.LeastRequest => new LeastRequestPolicy(backends),
        BalanceKind.Random => new RandomPolicy(backends),
        BalanceKind.Hash => new MaglevPolicy(backends),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown balance kind"),
    };
}
