using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

/// <summary>
/// <see cref="TimeoutPhase"/>: the heartbeat sees a phase as due, the connection's loop expires it later; a phase
/// armed or progressed in between is not expired by that stale check.
/// </summary>
public sealed class TimeoutPhaseTests
{
    [Fact]
    public void TryExpire_PhaseStillDue_Expires()
    {
        var phase = new TimeoutPhase();
        phase.Arm(100, nowMs: 1_000);

        Assert.False(phase.IsDue(1_050, out _));
        Assert.True(phase.IsDue(1_100, out var due));
        Assert.True(phase.TryExpire(due, 1_100));
        Assert.True(phase.Expired);
        Assert.False(phase.IsDue(1_200, out _)); // expired once, not again
    }

    [Fact]
    public void TryExpire_NewPhaseArmedAfterTheCheck_KeepsItRunning()
    {
        var phase = new TimeoutPhase();
        phase.Arm(100, nowMs: 1_000);
        Assert.True(phase.IsDue(1_200, out var due)); // the heartbeat looked...

        phase.Disarm();               // ...then the request head completed
        phase.Arm(5_000, nowMs: 1_200); // and the response-head phase started

        Assert.False(phase.TryExpire(due, 1_200));
        Assert.False(phase.Expired);
    }

    [Fact]
    public void TryExpire_ProgressAfterTheCheck_KeepsThePhase()
    {
        var phase = new TimeoutPhase();
        phase.Arm(100, nowMs: 1_000);
        Assert.True(phase.IsDue(1_100, out var due));

        phase.Touch(1_150);

        Assert.False(phase.TryExpire(due, 1_160));
        Assert.False(phase.Expired);
    }

    [Fact]
    public void Disarm_KeepsExpired_UntilTheNextArm()
    {
        var phase = new TimeoutPhase();
        phase.Arm(100, nowMs: 0);
        Assert.True(phase.IsDue(100, out var due));
        Assert.True(phase.TryExpire(due, 100));

        phase.Disarm();
        Assert.True(phase.Expired); // the code whose wait ended reads the flag after closing the phase

        phase.Arm(100, nowMs: 100);
        Assert.False(phase.Expired);
    }

    [Fact]
    public void Arm_ZeroTimeout_IsNeverDue()
    {
        var phase = new TimeoutPhase();
        phase.Arm(0, nowMs: 0);
        Assert.False(phase.IsDue(long.MaxValue / 2, out _));
    }

    [Fact]
    public async Task TryExpire_RacingArm_NeverExpiresThePhaseArmedAfterTheCheck()
    {
        // The heartbeat's check and the loop's re-arm race on two threads; whatever the interleaving, a phase armed
        // after the check (a long timeout that cannot be due) must never come out expired.
        var phase = new TimeoutPhase();
        var box = new StrongBox(phase);
        const int Rounds = 2_000;
        var wronglyExpired = 0;
        for (var i = 0; i < Rounds; i++)
        {
            box.Value.Arm(1, nowMs: 0);
            Assert.True(box.Value.IsDue(10, out var due));
            var heartbeat = Task.Run(() => box.Value.TryExpire(due, 10));
            box.Value.Arm(1_000_000, nowMs: 10);
            await heartbeat.WaitAsync(TimeSpan.FromSeconds(5));
            if (box.Value.Expired) wronglyExpired++; // the new, long phase was expired by the old check
        }
        Assert.Equal(0, wronglyExpired);
    }

    private sealed class StrongBox(TimeoutPhase value)
    {
        public TimeoutPhase Value = value;
    }
}
