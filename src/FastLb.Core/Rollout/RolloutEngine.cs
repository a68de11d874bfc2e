using FastLb.Core.Config;
using FastLb.Core.Metrics;
using FastLb.Core.Traffic;

namespace FastLb.Core.Rollout;

/// <summary>
/// One progressive rollout of a service to a pool, as a state machine fed by samples (a clock and both pools'
/// cumulative counters) and operator commands; it only decides, the traffic controller publishes.
/// </summary>
/// <remarks>
/// Each step gives the new pool its share and measures it from the moment the share is live. At the end of the
/// interval the step passes when the new pool served at least min_requests and no threshold is breached; with too
/// few requests the step runs another interval, up to <see cref="MaxIntervalsPerStep"/>, and is then inconclusive.
/// A breach ends the step early as soon as min_requests are in, and a backend of the new pool turning unhealthy
/// fails it at once. Absolute thresholds compare the new pool's figures with the settings; relative ones with the
/// baseline pool over the same window. Not thread-safe: the controller calls it under its write lock.
/// </remarks>
internal sealed partial class RolloutEngine
{
    /// <summary>A step with too few requests runs at most this many intervals before it is inconclusive.</summary>
    public const int MaxIntervalsPerStep = 3;

    /// <summary>Relative p99 checks treat a faster baseline as this fast: sub-millisecond noise is not a regression.</summary>
    public static readonly TimeSpan P99RatioFloor = TimeSpan.FromMilliseconds(1);

    private readonly List<StepVerdict> _verdicts = [];
    private TrafficTotals _toStart = TrafficTotals.Zero;
    private TrafficTotals _baselineStart = TrafficTotals.Zero;
    // The current window's figures from the process this one took over from (an upgrade); zero otherwise.
    private TrafficTotals _toCarried = TrafficTotals.Zero;
    private TrafficTotals _baselineCarried = TrafficTotals.Zero;
    private int _gateIndex = -1;
    private RolloutPhase _pausedFrom;

    public RolloutEngine(string service, string baselinePool, string toPool, RolloutConfig config, DateTimeOffset startedAt)
    {
        Service = service;
        BaselinePool = baselinePool;
        ToPool = toPool;
        Config = config;
        StartedAt = startedAt;
    }

    public string Service { get; }

    /// <summary>The pool being replaced: it takes the rest of each step's traffic and is the reference for relative thresholds.</summary>
    public string BaselinePool { get; }

    public string ToPool { get; }
    public RolloutConfig Config { get; }
    public DateTimeOffset StartedAt { get; }
    public RolloutPhase Phase { get; private set; } = RolloutPhase.Running;

    /// <summary>The step whose share is (or was last) live; -1 before the first step.</summary>
    public int StepIndex { get; private set; } = -1;

    /// <summary>The step waiting for <c>ctl promote</c>, or -1.</summary>
    public int GateIndex => Phase == RolloutPhase.AwaitingPromote || (Phase == RolloutPhase.Paused && _pausedFrom == RolloutPhase.AwaitingPromote) ? _gateIndex : -1;

    /// <summary>The new pool's share now, percent.</summary>
    public int Share => Phase switch
    {
        RolloutPhase.Completed => 100,
        RolloutPhase.RolledBack or RolloutPhase.Cancelled => 0,
        _ => StepIndex < 0 ? 0 : Config.Steps[StepIndex],
    };

    /// <summary>When the current step's share went live (its window began).</summary>
    public DateTimeOffset StepStartedAt { get; private set; }

    /// <summary>When the current step's window is judged (moves out by an interval for each extension).</summary>
    public DateTimeOffset WindowEndsAt { get; private set; }

    /// <summary>Intervals the current step has run or is running (1..<see cref="MaxIntervalsPerStep"/>).</summary>
    public int Intervals { get; private set; }

    public IReadOnlyList<StepVerdict> Verdicts => _verdicts;

    /// <summary>The final line once the rollout is over (completed, rolled back or cancelled), else null.</summary>
    public string? Outcome { get; private set; }

    public DateTimeOffset? EndedAt { get; private set; }

    public bool IsActive => Phase is RolloutPhase.Running or RolloutPhase.AwaitingPromote or RolloutPhase.Paused;

    /// <summary>The current step's traffic so far: the new pool's and the baseline's since the step began.</summary>
    public (TrafficTotals To, TrafficTotals Baseline) WindowSoFar(RolloutSample sample) =>
        StepIndex < 0 || !IsActive
            ? (TrafficTotals.Zero, TrafficTotals.Zero)
            : (_toCarried.Plus(sample.To.Since(_toStart)), _baselineCarried.Plus(sample.Baseline.Since(_baselineStart)));

    /// <summary>Starts the rollout: the first step's share, or a wait when the first step has a manual gate.</summary>
    public RolloutDecision Begin(RolloutSample sample) => EnterStep(0, sample, gateApplies: true);

    /// <summary>Judges the running step against a new sample; call about every 100 ms.</summary>
    public RolloutDecision Evaluate(RolloutSample sample)
    {
        if (Phase != RolloutPhase.Running) return RolloutDecision.Nothing;
        var (to, baseline) = WindowSoFar(sample);
        var window = sample.Now - StepStartedAt;
        if (sample.Unhealthy is { } unhealthy && Config.RollbackOnUnhealthy)
        {
            return Fail(sample.Now, StepOutcome.Failed, window, to, baseline, $"{unhealthy} over {StepVerdict.Seconds(window)} ({to.Requests} requests)");
        }
        if (to.Requests >= Config.MinRequests && Breach(to, baseline, window) is { } breach)
        {
            return Fail(sample.Now, StepOutcome.Failed, window, to, baseline, breach);
        }
        if (sample.Now < WindowEndsAt) return RolloutDecision.Nothing;
        if (to.Requests < Config.MinRequests)
        {
            if (Intervals < MaxIntervalsPerStep)
            {
                Intervals++;
                WindowEndsAt += Config.Interval;
                return new RolloutDecision(RolloutAction.None, Share,
                    $"rollout {Service} {ToPool} step {Share}% extended: {to.Requests} requests < min_requests {Config.MinRequests} over {StepVerdict.Seconds(window)}");
            }
            var reason = $"{to.Requests} requests < min_requests {Config.MinRequests} over {StepVerdict.Seconds(window)} ({Intervals} intervals)";
            if (Config.OnInconclusive == InconclusiveAction.Fail) return Fail(sample.Now, StepOutcome.Inconclusive, window, to, baseline, reason);
            _verdicts.Add(new StepVerdict(Share, StepOutcome.Inconclusive, sample.Now, window, to, baseline, reason));
            _pausedFrom = RolloutPhase.Running;
            Phase = RolloutPhase.Paused;
            return new RolloutDecision(RolloutAction.None, Share, $"rollout {Service} {ToPool} paused at step {Share}%: inconclusive: {reason}");
        }
        _verdicts.Add(new StepVerdict(Share, StepOutcome.Passed, sample.Now, window, to, baseline, Figures(to, baseline, window)));
        return EnterStep(StepIndex + 1, sample, gateApplies: true);
    }

    /// <summary>Holds the current share; nothing is judged until <see cref="Resume"/>.</summary>
    public RolloutDecision Pause(DateTimeOffset now)
    {
        if (Phase is not (RolloutPhase.Running or RolloutPhase.AwaitingPromote)) throw new TrafficException($"rollout {Service} {ToPool} is {Describe(Phase)}; only a running rollout can be paused");
        _pausedFrom = Phase;
        Phase = RolloutPhase.Paused;
        return new RolloutDecision(RolloutAction.None, Share, $"rollout {Service} {ToPool} paused at step {Share}%");
    }

    /// <summary>Continues a paused rollout; the current step is measured afresh from now (paused time is not judged).</summary>
    public RolloutDecision Resume(RolloutSample sample)
    {
        if (Phase != RolloutPhase.Paused) throw new TrafficException($"rollout {Service} {ToPool} is {Describe(Phase)}, not paused");
        Phase = _pausedFrom;
        if (Phase == RolloutPhase.Running) StartWindow(sample);
        return new RolloutDecision(RolloutAction.None, Share, $"rollout {Service} {ToPool} resumed at step {Share}%");
    }

    /// <summary>Moves to the next step now: through a manual gate, or past the step being measured (recorded as promoted).</summary>
    public RolloutDecision Promote(RolloutSample sample)
    {
        if (!IsActive) throw new TrafficException($"rollout {Service} {ToPool} is {Describe(Phase)}; nothing to promote");
        if (GateIndex >= 0) return EnterStep(GateIndex, sample, gateApplies: false);
        var (to, baseline) = WindowSoFar(sample);
        var window = sample.Now - StepStartedAt;
        _verdicts.Add(new StepVerdict(Share, StepOutcome.Promoted, sample.Now, window, to, baseline, "promoted by the operator: " + Figures(to, baseline, window)));
        return EnterStep(StepIndex + 1, sample, gateApplies: false);
    }

    /// <summary>Rolls back now (<c>ctl abort</c>).</summary>
    public RolloutDecision Abort(RolloutSample sample)
    {
        if (!IsActive) throw new TrafficException($"rollout {Service} {ToPool} is {Describe(Phase)}; nothing to abort");
        var (to, baseline) = WindowSoFar(sample);
        var window = StepIndex < 0 ? TimeSpan.Zero : sample.Now - StepStartedAt;
        return Fail(sample.Now, StepOutcome.Aborted, window, to, baseline, "aborted by the operator");
    }

    /// <summary>Ends the rollout without touching traffic: another change took the service over.</summary>
    public void Cancel(DateTimeOffset now, string reason)
    {
        if (!IsActive) return;
        Phase = RolloutPhase.Cancelled;
        EndedAt = now;
        Outcome = $"rollout {Service} {ToPool} cancelled at step {(StepIndex < 0 ? 0 : Config.Steps[StepIndex])}%: {reason}";
    }

    public static string Describe(RolloutPhase phase) => phase switch
    {
        RolloutPhase.Running => "running",
        RolloutPhase.AwaitingPromote => "awaiting_promote",
        RolloutPhase.Paused => "paused",
        RolloutPhase.Completed => "completed",
        RolloutPhase.RolledBack => "rolled_back",
        _ => "cancelled",
    };

    private RolloutDecision EnterStep(int index, RolloutSample sample, bool gateApplies)
    {
        if (index >= Config.Steps.Count)
        {
            Phase = RolloutPhase.Completed;
            EndedAt = sample.Now;
            Outcome = $"rollout {Service} {ToPool} completed: {_verdicts.Count} step(s) judged; {ToPool} has all traffic, {BaselinePool} drains";
            return new RolloutDecision(RolloutAction.Complete, 100, Outcome);
        }
        var share = Config.Steps[index];
        if (gateApplies && Config.ManualGates.Contains(share))
        {
            _gateIndex = index;
            Phase = RolloutPhase.AwaitingPromote;
            return new RolloutDecision(RolloutAction.None, Share, $"rollout {Service} {ToPool} waits at the manual gate before step {share}% (ctl promote {Service})");
        }
        _gateIndex = -1;
        StepIndex = index;
        Phase = RolloutPhase.Running;
        StartWindow(sample);
        return new RolloutDecision(RolloutAction.SetShare, share, $"rollout {Service} {ToPool} step {share}% ({index + 1} of {Config.Steps.Count})");
    }

    private void StartWindow(RolloutSample sample)
    {
        _toStart = sample.To;
        _baselineStart = sample.Baseline;
        _toCarried = TrafficTotals.Zero;
        _baselineCarried = TrafficTotals.Zero;
        StepStartedAt = sample.Now;
        WindowEndsAt = sample.Now + Config.Interval;
        Intervals = 1;
    }

    private RolloutDecision Fail(DateTimeOffset now, StepOutcome outcome, TimeSpan window, TrafficTotals to, TrafficTotals baseline, string reason)
    {
        var share = Share;
        if (StepIndex >= 0) _verdicts.Add(new StepVerdict(share, outcome, now, window, to, baseline, reason));
        Phase = RolloutPhase.RolledBack;
        EndedAt = now;
        var what = outcome == StepOutcome.Inconclusive ? "inconclusive: " + reason : reason;
        Outcome = $"rollout {Service} {ToPool} aborted at step {share}%: {what}";
        return new RolloutDecision(RolloutAction.RollBack, 0, Outcome);
    }

    /// <summary>The first threshold the new pool breaches over the window, described with its numbers; null when none.</summary>
    private string? Breach(TrafficTotals to, TrafficTotals baseline, TimeSpan window)
    {
        var over = $"over {StepVerdict.Seconds(window)} ({to.Requests} requests)";
        if (Config.MaxErrorRate is { } maxRate && to.ErrorRate > maxRate)
        {
            return $"error rate {RolloutValues.FormatPercent(to.ErrorRate)} > {RolloutValues.FormatPercent(maxRate)} {over}";
        }
        if (Config.MaxP99 is { } maxP99 && to.P99 > maxP99)
        {
            return $"p99 {StepVerdict.Millis(to.P99)} > {StepVerdict.Millis(maxP99)} {over}";
        }
        // Relative thresholds need a baseline that served traffic in the same window (at 100% it serves none).
        if (baseline.Requests < Math.Max(1, Config.MinRequests)) return null;
        if (Config.MaxErrorRateDelta is { } delta && to.ErrorRate - baseline.ErrorRate > delta)
        {
            return $"error rate {RolloutValues.FormatPercent(to.ErrorRate)} exceeds {BaselinePool}'s {RolloutValues.FormatPercent(baseline.ErrorRate)} by more than {RolloutValues.FormatPercent(delta)} {over}";
        }
        if (Config.MaxP99Ratio is { } ratio)
        {
            var reference = baseline.P99 < P99RatioFloor ? P99RatioFloor : baseline.P99;
            if (to.P99 > reference * ratio)
            {
                return $"p99 {StepVerdict.Millis(to.P99)} > {ratio.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} × {BaselinePool}'s {StepVerdict.Millis(baseline.P99)} {over}";
            }
        }
        return null;
    }

    private string Figures(TrafficTotals to, TrafficTotals baseline, TimeSpan window) =>
        $"error rate {RolloutValues.FormatPercent(to.ErrorRate)}, p99 {StepVerdict.Millis(to.P99)} over {StepVerdict.Seconds(window)} ({to.Requests} requests); "
        + $"{BaselinePool} {RolloutValues.FormatPercent(baseline.ErrorRate)}, p99 {StepVerdict.Millis(baseline.P99)} ({baseline.Requests} requests)";
}
