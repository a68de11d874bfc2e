using FastLb.Core.Rollout;

namespace FastLb.Core.Traffic;

/// <summary>A rollout the controller drives: its engine, the assignment to return to on a rollback, and who started it.</summary>
internal sealed class RolloutRun(RolloutEngine engine, Dictionary<string, int> previous, bool fromFile)
{
    public RolloutEngine Engine { get; } = engine;

    /// <summary>The service's shares before the rollout: what a rollback restores.</summary>
    public Dictionary<string, int> Previous { get; } = previous;

    /// <summary>Started by a reload (the file's active changed under a rollout block), not by <c>ctl rollout</c>.</summary>
    public bool FromFile { get; } = fromFile;
}
