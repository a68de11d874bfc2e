namespace FastLb.Core.Config;

/// <summary>A named group of backends that share releases (blue, green, canary).</summary>
internal sealed class PoolConfig
{
    public required string Name { get; init; }
    public required IReadOnlyList<BackendConfig> Backends { get; init; }

    /// <summary>Overrides the service's health check for this pool; null inherits it.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }
}
