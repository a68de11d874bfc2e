namespace FastLb.Core.Health;

/// <summary>A change of a backend's active-check state, to log once and to republish the routing table.</summary>
internal readonly record struct HealthTransition(HealthStatus From, HealthStatus To, string Reason);
