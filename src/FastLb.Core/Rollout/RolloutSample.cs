using FastLb.Core.Metrics;

namespace FastLb.Core.Rollout;

/// <summary>What the engine sees at one instant: the clock, both pools' cumulative counters, and whether a backend of the new pool is unhealthy.</summary>
/// <param name="Unhealthy">A description of the new pool's unhealthy or ejected backends, or null when all are fine.</param>
internal sealed record RolloutSample(DateTimeOffset Now, TrafficTotals To, TrafficTotals Baseline, string? Unhealthy = null);
