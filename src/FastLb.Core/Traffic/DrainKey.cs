namespace FastLb.Core.Traffic;

/// <summary>Identifies a drain: a whole pool (Address null) or one backend.</summary>
internal readonly record struct DrainKey(string Service, string Pool, string? Address);
