namespace FastLb.Core.Traffic;

/// <summary>What a control command did: the generation now live and a one-line description.</summary>
internal sealed record ChangeResult(long Generation, bool Changed, string Summary);
