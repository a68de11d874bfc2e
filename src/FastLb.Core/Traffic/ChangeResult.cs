namespace FastLb.Core.Traffic;

/// <summary>What a control command did: the generation now live, a one-line description, and warnings for the operator.</summary>
internal sealed record ChangeResult(long Generation, bool Changed, string Summary)
{
    /// <summary>Things the operator should know although the command went through (e.g. a rollback to an unhealthy pool).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
