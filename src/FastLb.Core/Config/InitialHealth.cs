namespace FastLb.Core.Config;

/// <summary>What a health-checked backend counts as before its first check.</summary>
internal enum InitialHealth
{
    /// <summary>No traffic until the first check passes (the default).</summary>
    Unknown,

    /// <summary>Takes traffic at once; a failing check takes it out as usual.</summary>
    Healthy,
}
