namespace FastLb.Core.Rollout;

/// <summary>What the traffic controller must do after the engine saw a sample or a command.</summary>
internal enum RolloutAction
{
    /// <summary>Nothing changes in the routing table.</summary>
    None,

    /// <summary>Give the new pool <see cref="RolloutDecision.Share"/> percent, the baseline pool the rest.</summary>
    SetShare,

    /// <summary>The last step passed: swap to the new pool.</summary>
    Complete,

    /// <summary>Restore the assignment before the rollout at once.</summary>
    RollBack,
}
