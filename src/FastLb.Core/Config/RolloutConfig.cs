namespace FastLb.Core.Config;

/// <summary>
/// How a progressive rollout moves traffic to a pool and judges it (`rollout:` of a service, or the options of
/// <c>ctl rollout</c>): the steps, how long each is measured, and the thresholds that roll it back.
/// </summary>
internal sealed record RolloutConfig
{
    public static readonly IReadOnlyList<int> DefaultSteps = [5, 25, 50, 100];
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);
    public const double DefaultMaxErrorRate = 0.01;
    public const int DefaultMinRequests = 100;

    /// <summary>The new pool's share at each step, percent, rising, each 1..100.</summary>
    public IReadOnlyList<int> Steps { get; init; } = DefaultSteps;

    /// <summary>How long each step is measured before it passes.</summary>
    public TimeSpan Interval { get; init; } = DefaultInterval;

    /// <summary>Highest error rate (0..1) the new pool may show; null = not checked.</summary>
    public double? MaxErrorRate { get; init; } = DefaultMaxErrorRate;

    /// <summary>Highest error rate (0..1) the new pool may show above the baseline pool's; null = not checked.</summary>
    public double? MaxErrorRateDelta { get; init; }

    /// <summary>Highest p99 request duration of the new pool; null = not checked.</summary>
    public TimeSpan? MaxP99 { get; init; }

    /// <summary>Highest ratio of the new pool's p99 to the baseline pool's; null = not checked.</summary>
    public double? MaxP99Ratio { get; init; }

    /// <summary>Requests the new pool must serve in a step for the step to be judged.</summary>
    public int MinRequests { get; init; } = DefaultMinRequests;

    /// <summary>Steps (by their share) that wait for <c>ctl promote</c> before they begin.</summary>
    public IReadOnlyList<int> ManualGates { get; init; } = [];

    /// <summary>What a step does that still lacks <see cref="MinRequests"/> after three intervals.</summary>
    public InconclusiveAction OnInconclusive { get; init; } = InconclusiveAction.Fail;

    /// <summary>A backend of the new pool turning unhealthy or ejected is a breach (with health checks or outlier detection).</summary>
    public bool RollbackOnUnhealthy { get; init; } = true;

    /// <summary>
    /// Step 0 first: the new pool keeps 0% of real traffic and is judged on the copies a route's mirror sends it;
    /// <see cref="Steps"/> then starts with 0 (<see cref="WithPreviewMirror"/>).
    /// </summary>
    public bool PreviewMirror { get; init; }

    /// <summary>These settings with the preview step 0 in front of the steps.</summary>
    public RolloutConfig WithPreviewMirror() =>
        PreviewMirror ? this : this with { PreviewMirror = true, Steps = [0, .. Steps] };

    /// <summary>Value equality over every setting (the lists compared by content).</summary>
    public bool SameAs(RolloutConfig? other) =>
        other is not null && Steps.SequenceEqual(other.Steps) && Interval == other.Interval && MaxErrorRate == other.MaxErrorRate
        && MaxErrorRateDelta == other.MaxErrorRateDelta && MaxP99 == other.MaxP99 && MaxP99Ratio == other.MaxP99Ratio
        && MinRequests == other.MinRequests && ManualGates.SequenceEqual(other.ManualGates) && OnInconclusive == other.OnInconclusive
        && RollbackOnUnhealthy == other.RollbackOnUnhealthy && PreviewMirror == other.PreviewMirror;

    /// <summary>One line for logs and status: "steps 5,25,50,100 every 30s; max error rate 1%; min requests 100".</summary>
    public string Describe()
    {
        var parts = new List<string> { $"steps {string.Join(",", Steps)} every {ConfigDuration.Format(Interval)}" };
        if (MaxErrorRate is { } e) parts.Add($"max error rate {RolloutValues.FormatPercent(e)}");
        if (MaxErrorRateDelta is { } d) parts.Add($"max error rate delta {RolloutValues.FormatPercent(d)}");
        if (MaxP99 is { } p) parts.Add($"max p99 {ConfigDuration.Format(p)}");
        if (MaxP99Ratio is { } r) parts.Add($"max p99 ratio {r.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}");
        parts.Add($"min requests {MinRequests}");
        if (ManualGates.Count > 0) parts.Add($"manual gate at {string.Join(",", ManualGates)}");
        if (OnInconclusive == InconclusiveAction.Pause) parts.Add("inconclusive pauses");
        if (!RollbackOnUnhealthy) parts.Add("unhealthy backends ignored");
        if (PreviewMirror) parts.Add("step 0 judges mirrored copies");
        return string.Join("; ", parts);
    }
}
