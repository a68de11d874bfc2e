namespace FastLb.Core.Health;

/// <summary>What the active checks say about a backend.</summary>
internal enum HealthStatus : byte
{
    /// <summary>Never checked (or no check configured).</summary>
    Unknown,
    Healthy,
    Unhealthy,
}
