using FastLb.Core.Config;
using FastLb.Core.Metrics;
using FastLb.Core.Rollout;
using FastLb.Core.Traffic;
using Xunit;

namespace FastLb.Tests.Rollout;

/// <summary>The rollout state machine driven by a hand-moved clock and hand-made pool counters: no sockets, no sleeping.</summary>
public sealed class RolloutEngineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(5);

    private DateTimeOffset _now = T0;
    private TrafficTotals _green = TrafficTotals.Zero;
    private TrafficTotals _blue = TrafficTotals.Zero;
    private string? _unhealthy;

    private static RolloutEngine Engine(RolloutConfig? config = null) =>
        new("web", "blue", "green", config ?? new RolloutConfig { Steps = [10, 50, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 100 }, T0);

    private RolloutSample Sample() => new(_now, _green, _blue, _unhealthy);

    /// <summary>Both pools serve traffic for <paramref name="by"/>: green <paramref name="green"/> requests with <paramref name="greenErrors"/> errors.</summary>
    private void Serve(TimeSpan by, int green, int greenErrors = 0, TimeSpan? greenLatency = null, int blue = 1000, TimeSpan? blueLatency = null)
    {
        _now += by;
        _green = _green.Plus(TrafficTotals.Of(green, greenErrors, greenLatency ?? Fast));
        _blue = _blue.Plus(TrafficTotals.Of(blue, 0, blueLatency ?? Fast));
    }

    [Fact]
    public void Begin_FirstStep_GivesItsShare()
    {
        var engine = Engine();

        var d = engine.Begin(Sample());

        Assert.Equal(RolloutAction.SetShare, d.Action);
        Assert.Equal(10, d.Share);
        Assert.Equal(RolloutPhase.Running, engine.Phase);
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), engine.WindowEndsAt);
    }

    [Fact]
    public void Evaluate_HealthyGreen_PassesEveryStepThenCompletes()
    {
        var engine = Engine();
        engine.Begin(Sample());
        var shares = new List<int>();

        for (var i = 0; i < 3; i++)
        {
            Serve(TimeSpan.FromSeconds(29), green: 150);
            Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action); // not before the interval ends
            Serve(TimeSpan.FromSeconds(1), green: 0);
            var d = engine.Evaluate(Sample());
            shares.Add(d.Share);
            if (i < 2) Assert.Equal(RolloutAction.SetShare, d.Action);
            else Assert.Equal(RolloutAction.Complete, d.Action);
        }

        Assert.Equal([50, 100, 100], shares);
        Assert.Equal(RolloutPhase.Completed, engine.Phase);
        Assert.All(engine.Verdicts, v => Assert.Equal(StepOutcome.Passed, v.Outcome));
        Assert.Equal(150, engine.Verdicts[0].To.Requests);
        Assert.Contains("completed", engine.Outcome);
    }

    [Fact]
    public void Evaluate_ErrorRateAboveMax_RollsBackEarlyOnceMinRequestsAreIn()
    {
        var engine = Engine();
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(5), green: 99, greenErrors: 20);
        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action); // 99 < min_requests: no verdict yet
        Serve(TimeSpan.FromSeconds(1), green: 1, greenErrors: 0);
        var d = engine.Evaluate(Sample());

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Equal(RolloutPhase.RolledBack, engine.Phase);
        Assert.Equal("rollout web green aborted at step 10%: error rate 20% > 1% over 6 s (100 requests)", engine.Outcome);
        var verdict = Assert.Single(engine.Verdicts);
        Assert.Equal(StepOutcome.Failed, verdict.Outcome);
        Assert.Equal(100, verdict.To.Requests);
        Assert.Equal(20, verdict.To.Errors);
        Assert.Equal(T0 + TimeSpan.FromSeconds(6), verdict.At);
    }

    [Fact]
    public void Evaluate_ErrorsBeforeTheStep_NotCounted()
    {
        _green = TrafficTotals.Of(500, 500, Fast); // green failed everything before the rollout began
        var engine = Engine();
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 200);

        Assert.Equal(RolloutAction.SetShare, engine.Evaluate(Sample()).Action);
        Assert.Equal(0, engine.Verdicts[0].To.Errors);
    }

    [Fact]
    public void Evaluate_P99AboveMax_RollsBack()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxP99 = TimeSpan.FromMilliseconds(500) });
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 50, greenLatency: TimeSpan.FromMilliseconds(800));
        var d = engine.Evaluate(Sample());

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Matches(@"^rollout web green aborted at step 10%: p99 \d+ ms > 500 ms over 30 s \(50 requests\)$", engine.Outcome);
    }

    [Fact]
    public void Evaluate_P99ThreeTimesBaseline_RollsBackByRatio()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxErrorRate = null, MaxP99Ratio = 1.5 });
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 50, greenLatency: TimeSpan.FromMilliseconds(300), blueLatency: TimeSpan.FromMilliseconds(100));
        engine.Evaluate(Sample());

        Assert.Equal(RolloutPhase.RolledBack, engine.Phase);
        Assert.Contains("× blue's", engine.Outcome);
        var verdict = Assert.Single(engine.Verdicts);
        Assert.True(verdict.To.P99 > 2.5 * verdict.Baseline.P99, $"{verdict.To.P99} vs {verdict.Baseline.P99}");
    }

    [Fact]
    public void Evaluate_P99RatioWithinLimit_Passes()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxP99Ratio = 1.5 });
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 50, greenLatency: TimeSpan.FromMilliseconds(110), blueLatency: TimeSpan.FromMilliseconds(100));

        Assert.Equal(RolloutAction.SetShare, engine.Evaluate(Sample()).Action);
    }

    [Fact]
    public void Evaluate_SubMillisecondBaseline_RatioJudgedAgainstOneMillisecond()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxP99Ratio = 2 });
        engine.Begin(Sample());

        // 0.3 ms against 0.1 ms is 3× but loopback noise, not a regression.
        Serve(TimeSpan.FromSeconds(30), green: 50, greenLatency: TimeSpan.FromMicroseconds(300), blueLatency: TimeSpan.FromMicroseconds(100));

        Assert.Equal(RolloutAction.SetShare, engine.Evaluate(Sample()).Action);
    }

    [Fact]
    public void Evaluate_ErrorRateDeltaAboveBaseline_RollsBack()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxErrorRate = null, MaxErrorRateDelta = 0.02 });
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 100, greenErrors: 5);
        engine.Evaluate(Sample());

        Assert.Equal(RolloutPhase.RolledBack, engine.Phase);
        Assert.Contains("error rate 5% exceeds blue's 0% by more than 2%", engine.Outcome);
    }

    [Fact]
    public void Evaluate_TooFewRequests_ExtendsTwiceThenFailsAsInconclusive()
    {
        var engine = Engine();
        engine.Begin(Sample());
        var actions = new List<RolloutAction>();

        for (var i = 0; i < 3; i++)
        {
            Serve(TimeSpan.FromSeconds(30), green: 10);
            actions.Add(engine.Evaluate(Sample()).Action);
            if (i < 2) Assert.Equal(i + 2, engine.Intervals);
        }

        Assert.Equal([RolloutAction.None, RolloutAction.None, RolloutAction.RollBack], actions);
        var verdict = Assert.Single(engine.Verdicts);
        Assert.Equal(StepOutcome.Inconclusive, verdict.Outcome);
        Assert.Equal("rollout web green aborted at step 10%: inconclusive: 30 requests < min_requests 100 over 90 s (3 intervals)", engine.Outcome);
    }

    [Fact]
    public void Evaluate_TooFewRequestsThenEnoughInAnExtension_Passes()
    {
        var engine = Engine();
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 60);
        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action);
        Serve(TimeSpan.FromSeconds(30), green: 60);
        var d = engine.Evaluate(Sample());

        Assert.Equal(RolloutAction.SetShare, d.Action);
        Assert.Equal(120, engine.Verdicts[0].To.Requests);
        Assert.Equal(TimeSpan.FromSeconds(60), engine.Verdicts[0].Window);
    }

    [Fact]
    public void Evaluate_InconclusiveWithPause_HoldsShareUntilResumed()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], Interval = TimeSpan.FromSeconds(10), MinRequests = 100, OnInconclusive = InconclusiveAction.Pause });
        engine.Begin(Sample());
        for (var i = 0; i < 3; i++)
        {
            Serve(TimeSpan.FromSeconds(10), green: 1);
            engine.Evaluate(Sample());
        }
        Assert.Equal(RolloutPhase.Paused, engine.Phase);
        Assert.Equal(10, engine.Share);

        Serve(TimeSpan.FromMinutes(5), green: 0);
        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action); // paused: nothing is judged
        engine.Resume(Sample());
        Serve(TimeSpan.FromSeconds(10), green: 100);

        Assert.Equal(RolloutAction.SetShare, engine.Evaluate(Sample()).Action);
        Assert.Equal(100, engine.Verdicts[^1].To.Requests); // measured afresh from the resume
    }

    [Fact]
    public void Evaluate_UnhealthyBackend_RollsBackAtOnce()
    {
        var engine = Engine();
        engine.Begin(Sample());
        _unhealthy = "green backend 127.0.0.1:9 ejected";

        Serve(TimeSpan.FromSeconds(1), green: 1);
        var d = engine.Evaluate(Sample());

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Contains("green backend 127.0.0.1:9 ejected", engine.Outcome);
    }

    [Fact]
    public void Evaluate_UnhealthyIgnoredWhenConfigured()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], RollbackOnUnhealthy = false });
        engine.Begin(Sample());
        _unhealthy = "green backend 127.0.0.1:9 ejected";

        Serve(TimeSpan.FromSeconds(1), green: 1);

        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action);
    }

    [Fact]
    public void ManualGate_WaitsBeforeTheStepUntilPromoted()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 50, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, ManualGates = [50] });
        engine.Begin(Sample());
        Serve(TimeSpan.FromSeconds(30), green: 20);

        var d = engine.Evaluate(Sample());

        Assert.Equal(RolloutAction.None, d.Action);
        Assert.Equal(RolloutPhase.AwaitingPromote, engine.Phase);
        Assert.Equal(10, engine.Share); // the passed step's share holds at the gate
        Serve(TimeSpan.FromHours(1), green: 0);
        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action);

        var promoted = engine.Promote(Sample());

        Assert.Equal(RolloutAction.SetShare, promoted.Action);
        Assert.Equal(50, promoted.Share);
        Assert.Equal(RolloutPhase.Running, engine.Phase);
    }

    [Fact]
    public void ManualGate_OnFirstStep_NoTrafficUntilPromoted()
    {
        var engine = Engine(new RolloutConfig { Steps = [10, 100], ManualGates = [10] });

        var d = engine.Begin(Sample());

        Assert.Equal(RolloutAction.None, d.Action);
        Assert.Equal(0, engine.Share);
        Assert.Equal(10, engine.Promote(Sample()).Share);
    }

    [Fact]
    public void Promote_WhileRunning_SkipsToNextStepAndRecordsNumbers()
    {
        var engine = Engine();
        engine.Begin(Sample());
        Serve(TimeSpan.FromSeconds(3), green: 7);

        var d = engine.Promote(Sample());

        Assert.Equal(50, d.Share);
        Assert.Equal(StepOutcome.Promoted, engine.Verdicts[0].Outcome);
        Assert.Equal(7, engine.Verdicts[0].To.Requests);
    }

    [Fact]
    public void Promote_OnLastStep_Completes()
    {
        var engine = Engine(new RolloutConfig { Steps = [50] });
        engine.Begin(Sample());

        Assert.Equal(RolloutAction.Complete, engine.Promote(Sample()).Action);
        Assert.Equal(RolloutPhase.Completed, engine.Phase);
    }

    [Fact]
    public void Pause_HoldsThenResumeRestartsTheWindow()
    {
        var engine = Engine();
        engine.Begin(Sample());
        Serve(TimeSpan.FromSeconds(20), green: 1000, greenErrors: 0);

        engine.Pause(_now);
        Serve(TimeSpan.FromSeconds(60), green: 1000, greenErrors: 1000); // not judged while paused
        Assert.Equal(RolloutAction.None, engine.Evaluate(Sample()).Action);
        engine.Resume(Sample());

        Assert.Equal(_now + TimeSpan.FromSeconds(30), engine.WindowEndsAt);
        Serve(TimeSpan.FromSeconds(30), green: 200);
        Assert.Equal(RolloutAction.SetShare, engine.Evaluate(Sample()).Action);
    }

    [Fact]
    public void Abort_RollsBackWithVerdict()
    {
        var engine = Engine();
        engine.Begin(Sample());
        Serve(TimeSpan.FromSeconds(2), green: 5);

        var d = engine.Abort(Sample());

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Equal("rollout web green aborted at step 10%: aborted by the operator", engine.Outcome);
        Assert.Equal(StepOutcome.Aborted, engine.Verdicts[0].Outcome);
    }

    [Fact]
    public void Commands_AfterTheEnd_Refused()
    {
        var engine = Engine();
        engine.Begin(Sample());
        engine.Abort(Sample());

        Assert.Throws<TrafficException>(() => engine.Promote(Sample()));
        Assert.Throws<TrafficException>(() => engine.Pause(_now));
        Assert.Throws<TrafficException>(() => engine.Resume(Sample()));
        Assert.Throws<TrafficException>(() => engine.Abort(Sample()));
    }

    [Fact]
    public void Evaluate_LastStepAtHundred_BaselineIdle_RelativeChecksSkipped()
    {
        var engine = Engine(new RolloutConfig { Steps = [100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10, MaxP99Ratio = 1.1, MaxErrorRateDelta = 0 });
        engine.Begin(Sample());

        Serve(TimeSpan.FromSeconds(30), green: 100, greenLatency: TimeSpan.FromMilliseconds(50), blue: 0);

        Assert.Equal(RolloutAction.Complete, engine.Evaluate(Sample()).Action);
    }
}
