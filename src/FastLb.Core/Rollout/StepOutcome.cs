namespace FastLb.Core.Rollout;

/// <summary>How one step of a rollout ended.</summary>
internal enum StepOutcome
{
    Passed,

    /// <summary>A threshold was breached (or a backend turned unhealthy): the rollout rolled back.</summary>
    Failed,

    /// <summary>Too few requests after three intervals.</summary>
    Inconclusive,

    /// <summary>The operator moved on before the step was judged.</summary>
    Promoted,

    /// <summary>The operator rolled back (<c>ctl abort</c>).</summary>
    Aborted,
}
