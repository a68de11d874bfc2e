namespace FastLb.Core.Rollout;

/// <summary>The engine's answer: an action for the routing table, the new pool's share it implies, and a line for the log.</summary>
internal sealed record RolloutDecision(RolloutAction Action, int Share, string? Message)
{
    public static readonly RolloutDecision Nothing = new(RolloutAction.None, 0, null);
}
