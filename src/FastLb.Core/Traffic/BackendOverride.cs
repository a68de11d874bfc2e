namespace FastLb.Core.Traffic;

/// <summary>A runtime change to one backend (`ctl weight`, `ctl drain`), remembered with the file weight it overrode.</summary>
internal sealed class BackendOverride(int fileWeight)
{
    /// <summary>The weight the file gave when this override was made; a file edit of it discards the override.</summary>
    public int FileWeight { get; set; } = fileWeight;

    public int? Weight { get; set; }

    /// <summary>Drained by the operator: no new traffic until enabled.</summary>
    public bool Drained { get; set; }

    public DateTimeOffset? DrainedSince { get; set; }

    public bool IsEmpty => Weight is null && !Drained;
}
