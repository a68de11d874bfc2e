namespace FastLb.Core.Config;

/// <summary>
/// Why each fallback step of one request was taken, packed 4 bits a step into a <see cref="ulong"/> (each
/// <see cref="FallbackReasons"/> is one of 4 flags), so the access log can name them without a per-request list.
/// </summary>
internal static class FallbackTrail
{
    /// <summary>Steps a trail holds: more than max_attempts (at most 10) allows.</summary>
    public const int MaxSteps = 16;

    public static ulong With(ulong trail, int step, FallbackReasons reason) =>
        step < MaxSteps ? trail | ((ulong)reason & 0xF) << (4 * step) : trail;

    public static FallbackReasons At(ulong trail, int step) =>
        step < MaxSteps ? (FallbackReasons)((trail >> (4 * step)) & 0xF) : FallbackReasons.None;
}
