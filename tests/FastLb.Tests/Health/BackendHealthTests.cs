using FastLb.Core.Config;
using FastLb.Core.Health;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Health;

public class BackendHealthTests
{
    private static readonly HealthCheckConfig Check = new() { HealthyThreshold = 2, UnhealthyThreshold = 3 };
    private static readonly CheckResult Pass = new(true, 200, null, TimeSpan.FromMilliseconds(1));
    private static readonly CheckResult Fail = new(false, 0, "connect refused", TimeSpan.FromMilliseconds(1));
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));

    private BackendHealth Checked(InitialHealth initial = InitialHealth.Unknown) => new(_time) { Checked = true, Initial = initial };

    [Fact]
    public void RecordCheck_FirstPass_UnknownBecomesHealthyAtOnce()
    {
        var h = Checked();
        Assert.False(h.IsAvailable(_time.GetUtcNow()));

        var t = h.RecordCheck(Pass, Check);

        Assert.Equal(new HealthTransition(HealthStatus.Unknown, HealthStatus.Healthy, "status 200 (1 in a row)"), t);
        Assert.True(h.IsAvailable(_time.GetUtcNow()));
    }

    [Fact]
    public void RecordCheck_FailuresUpToThreshold_UnhealthyOnceThenBackAfterHealthyThreshold()
    {
        var h = Checked();
        h.RecordCheck(Pass, Check);

        Assert.Null(h.RecordCheck(Fail, Check));
        Assert.Null(h.RecordCheck(Fail, Check));
        var down = h.RecordCheck(Fail, Check);
        Assert.Null(h.RecordCheck(Fail, Check)); // logged once, not on every further failure

        Assert.Equal(HealthStatus.Unhealthy, down!.Value.To);
        Assert.Equal("connect refused (3 in a row)", down.Value.Reason);
        Assert.Equal(BackendHealthState.Unhealthy, h.StateAt(_time.GetUtcNow()));
        Assert.Null(h.RecordCheck(Pass, Check));
        Assert.Equal(HealthStatus.Healthy, h.RecordCheck(Pass, Check)!.Value.To);
        Assert.Equal((2, 0), h.InRow);
    }

    [Fact]
    public void RecordCheck_InitialHealthy_UnknownTakesTrafficUntilThresholdFailures()
    {
        var h = Checked(InitialHealth.Healthy);
        Assert.True(h.IsAvailable(_time.GetUtcNow()));
        Assert.Equal(BackendHealthState.Unknown, h.StateAt(_time.GetUtcNow()));

        Assert.Null(h.RecordCheck(Fail, Check));
        Assert.Null(h.RecordCheck(Fail, Check));
        Assert.True(h.IsAvailable(_time.GetUtcNow()));
        Assert.Equal(HealthStatus.Unhealthy, h.RecordCheck(Fail, Check)!.Value.To);
        Assert.False(h.IsAvailable(_time.GetUtcNow()));
    }

    [Fact]
    public void RecordCheck_FirstFailure_UnknownBecomesUnhealthy()
    {
        var h = Checked();

        Assert.Equal(HealthStatus.Unhealthy, h.RecordCheck(Fail, Check)!.Value.To);
    }

    [Fact]
    public void Unchecked_CountsAsHealthy()
    {
        var h = new BackendHealth(_time);

        Assert.True(h.IsAvailable(_time.GetUtcNow()));
        Assert.Equal(BackendHealthState.Healthy, h.StateAt(_time.GetUtcNow()));
    }

    private (BackendHealth[] Members, PoolEjectionBudget Budget) Pool(int n, OutlierConfig outlier)
    {
        var budget = new PoolEjectionBudget();
        var members = new BackendHealth[n];
        for (var i = 0; i < n; i++) members[i] = new BackendHealth(_time) { Outlier = outlier, Budget = budget };
        budget.SetMembers(members);
        return (members, budget);
    }

    [Fact]
    public void RecordFailure_NthInRow_EjectsForBaseTimesCountCappedAtMax()
    {
        var outlier = new OutlierConfig { ConsecutiveFailures = 3, BaseEjection = TimeSpan.FromSeconds(30), MaxEjection = TimeSpan.FromSeconds(50) };
        var (members, _) = Pool(2, outlier);
        var h = members[0];

        Assert.False(h.RecordFailure("connect failed"));
        h.RecordSuccess(); // a success ends the run
        Assert.False(h.RecordFailure("connect failed"));
        Assert.False(h.RecordFailure("connect failed"));
        Assert.True(h.RecordFailure("connect failed"));

        var start = _time.GetUtcNow();
        Assert.Equal(start + TimeSpan.FromSeconds(30), h.EjectedUntil);
        Assert.False(h.IsAvailable(start));
        Assert.False(h.EndEjection(start + TimeSpan.FromSeconds(29)));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(h.EndEjection(_time.GetUtcNow()));
        Assert.True(h.IsAvailable(_time.GetUtcNow()));

        for (var i = 0; i < 3; i++) h.RecordFailure("connect failed");
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(50), h.EjectedUntil); // 2 × 30s, capped at 50s
        Assert.Equal(2, h.Ejections);
    }

    [Fact]
    public void RecordFailure_MaxEjectedPercent_NeverEjectsMoreThanThatShare()
    {
        var outlier = new OutlierConfig { ConsecutiveFailures = 1, MaxEjectedPercent = 50 };
        var (members, _) = Pool(4, outlier);

        var ejected = members.Count(m => m.RecordFailure("connect failed"));

        Assert.Equal(2, ejected);
        Assert.Equal(2, members.Count(m => m.IsEjected(_time.GetUtcNow())));
    }

    [Fact]
    public void RecordCheck_PassWhileEjected_EndsEjectionEarly()
    {
        var (members, _) = Pool(2, new OutlierConfig { ConsecutiveFailures = 1 });
        var h = members[0];
        h.Checked = true;
        h.RecordCheck(Pass, Check);
        Assert.True(h.RecordFailure("reset before response"));

        h.RecordCheck(Pass, Check);

        Assert.Null(h.EjectedUntil);
        Assert.True(h.IsAvailable(_time.GetUtcNow()));
    }

    [Theory]
    [InlineData(0, 0.1)]
    [InlineData(15, 0.55)]
    [InlineData(30, 1.0)]
    [InlineData(60, 1.0)]
    public void SlowStartFactor_LinearFromTenPercent(int seconds, double expected)
    {
        Assert.Equal(expected, SlowStart.Factor(TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(30)), 6);
    }

    [Fact]
    public void PickWeight_RampScaled_KeepsWeightOneBackendsRampable()
    {
        Assert.Equal(2, SlowStart.PickWeight(1, 0.1, SlowStart.RampScale));
        Assert.Equal(20, SlowStart.PickWeight(1, 1, SlowStart.RampScale));
        Assert.Equal(3, SlowStart.PickWeight(3, 1, 1));
        Assert.Equal(0, SlowStart.PickWeight(0, 0.5, SlowStart.RampScale));
    }

    [Fact]
    public void ExportImport_RoundTripsState()
    {
        var (members, _) = Pool(2, new OutlierConfig { ConsecutiveFailures = 1 });
        members[0].Checked = true;
        members[0].RecordCheck(Fail, Check);
        members[0].RecordFailure("connect failed");

        var copy = new BackendHealth(_time) { Checked = true };
        copy.Import(members[0].Export());

        Assert.Equal(HealthStatus.Unhealthy, copy.Status);
        Assert.Equal(members[0].EjectedUntil, copy.EjectedUntil);
        Assert.Equal(1, copy.Ejections);
        Assert.Equal(BackendHealthState.Ejected, copy.StateAt(_time.GetUtcNow()));
    }

    [Fact]
    public void EjectFor_RetryAfter_EjectedThatLongNeverShortenedThenReturns()
    {
        var h = new BackendHealth(_time);

        Assert.True(h.EjectFor(TimeSpan.FromSeconds(30)));
        Assert.False(h.EjectFor(TimeSpan.FromSeconds(5))); // a shorter Retry-After does not end it early

        Assert.True(h.IsEjected(_time.GetUtcNow()));
        Assert.Equal(BackendHealth.RetryAfterReason, h.LastFailure);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(h.EndEjection(_time.GetUtcNow()));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(h.EndEjection(_time.GetUtcNow()));
        Assert.True(h.IsAvailable(_time.GetUtcNow()));
        Assert.Equal(1, h.Ejections);
    }
}
