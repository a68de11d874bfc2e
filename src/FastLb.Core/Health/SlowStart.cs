namespace FastLb.Core.Health;

/// <summary>Slow-start arithmetic: a returning backend's weight ramps linearly from 10% to 100% of its weight.</summary>
internal static class SlowStart
{
    public const double StartFactor = 0.1;

    /// <summary>The share of full weight after <paramref name="elapsed"/> of a ramp lasting <paramref name="duration"/>.</summary>
    public static double Factor(TimeSpan elapsed, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero || elapsed >= duration) return 1;
        if (elapsed <= TimeSpan.Zero) return StartFactor;
        return StartFactor + (1 - StartFactor) * (elapsed.Ticks / (double)duration.Ticks);
    }

    /// <summary>
    /// While a backend of a pool ramps, every weight of that pool is multiplied by this, so a weight-1 backend can
    /// still take 10%, 15%, … of its share (the schedules hold integer weights).
    /// </summary>
    public const int RampScale = 20;

    /// <summary>The integer weight the balancer uses: <paramref name="weight"/> × <paramref name="scale"/> × <paramref name="factor"/>, never below 1 for a positive weight.</summary>
    public static int PickWeight(int weight, double factor, int scale)
    {
        if (weight <= 0) return 0;
        var scaled = (long)weight * scale;
        if (factor >= 1) return (int)Math.Min(scaled, int.MaxValue);
        return (int)Math.Clamp((long)Math.Round(scaled * factor, MidpointRounding.AwayFromZero), 1, int.MaxValue);
    }
}
