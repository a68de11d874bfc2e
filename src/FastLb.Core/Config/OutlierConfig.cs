namespace FastLb.Core.Config;

/// <summary>Passive health (`outlier:`): backends that fail real traffic are ejected for a while.</summary>
internal sealed class OutlierConfig
{
    /// <summary>Failures in a row (connect failure or timeout, reset before the response head, 5xx when enabled) that eject.</summary>
    public int ConsecutiveFailures { get; init; } = 5;

    /// <summary>Counts a 5xx response as a failure.</summary>
    public bool EjectOn5xx { get; init; }

    /// <summary>The first ejection lasts this long; the n-th lasts n times as long, up to <see cref="MaxEjection"/>.</summary>
    public TimeSpan BaseEjection { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxEjection { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>At most this share of a pool's backends is ejected at once.</summary>
    public int MaxEjectedPercent { get; init; } = 50;
}
