namespace FastLb.Core.Health;

/// <summary>A backend's health as status and metrics show it.</summary>
internal enum BackendHealthState : byte
{
    Unknown,
    Healthy,
    Unhealthy,
    Ejected,
}
