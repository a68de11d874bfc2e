using System.Globalization;
using FastLb.Core.Metrics;

namespace FastLb.Core.Rollout;

/// <summary>The judgement of one step, with the numbers that decided it.</summary>
/// <param name="Share">The new pool's share during the step, percent.</param>
/// <param name="Window">How long the step was measured.</param>
/// <param name="To">The new pool's traffic over the window.</param>
/// <param name="Baseline">The baseline pool's traffic over the same window.</param>
/// <param name="Reason">Why: the breached threshold, or the figures that passed.</param>
internal sealed record StepVerdict(int Share, StepOutcome Outcome, DateTimeOffset At, TimeSpan Window, TrafficTotals To, TrafficTotals Baseline, string Reason)
{
    public string OutcomeName => Outcome switch
    {
        StepOutcome.Passed => "passed",
        StepOutcome.Failed => "failed",
        StepOutcome.Inconclusive => "inconclusive",
        StepOutcome.Promoted => "promoted",
        _ => "aborted",
    };

    /// <summary>"step 25%: failed: error rate 7.9% > 1% over 30 s (412 requests)".</summary>
    public string Describe() => $"step {Share}%: {OutcomeName}: {Reason}";

    /// <summary>"30 s", "0.4 s".</summary>
    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString(t.TotalSeconds < 10 ? "0.#" : "0", CultureInfo.InvariantCulture) + " s";

    /// <summary>"812 ms", "1.2 ms".</summary>
    public static string Millis(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 10 ? "0.#" : "0", CultureInfo.InvariantCulture) + " ms";
}
