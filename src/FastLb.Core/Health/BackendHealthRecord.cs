namespace FastLb.Core.Health;

/// <summary>A backend's health in plain values (UTC ticks, 0 = none), exported by one process and imported by its successor.</summary>
internal sealed record BackendHealthRecord(
    HealthStatus Status,
    long SinceTicks,
    int PassesInRow,
    int FailuresInRow,
    long EjectedUntilTicks,
    int TimesEjected,
    long ReturnedTicks,
    long Ejections,
    long RampStartTicks);
