namespace FastLb.Core.Config;

/// <summary>One entry of <c>fallback.to</c>: a pool of the same service (<paramref name="IsPool"/>) or another service.</summary>
internal sealed record FallbackTargetConfig(string Name, bool IsPool);
