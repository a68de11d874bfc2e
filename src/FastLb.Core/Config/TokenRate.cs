namespace FastLb.Core.Config;

/// <summary>A token bucket's size: refilled at <paramref name="TokensPerMinute"/>, holding at most <paramref name="Burst"/>.</summary>
internal sealed record TokenRate(long TokensPerMinute, long Burst);
