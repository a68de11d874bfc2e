namespace FastLb.Core.Rollout;

/// <summary>Where a rollout is: measuring a step, waiting, or over.</summary>
internal enum RolloutPhase
{
    /// <summary>A step's share is live and its window is being measured.</summary>
    Running,

    /// <summary>Held before a manual-gate step until <c>ctl promote</c>.</summary>
    AwaitingPromote,

    /// <summary>Held by <c>ctl pause</c> (or an inconclusive step with on_inconclusive: pause): the share stays, nothing is judged.</summary>
    Paused,

    /// <summary>Every step passed: the new pool has all traffic.</summary>
    Completed,

    /// <summary>A step failed or the operator aborted: traffic went back to the assignment before the rollout.</summary>
    RolledBack,

    /// <summary>Ended by another change of the service's traffic (swap, split, rollback, a reload that changed it).</summary>
    Cancelled,
}
