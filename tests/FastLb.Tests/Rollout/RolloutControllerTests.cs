using System.Buffers;
using System.Text;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Rollout;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Rollout;

/// <summary>The traffic controller driving a rollout: shares published per step, rollback, history, reloads, status. A hand-moved clock; traffic added to the counters directly.</summary>
public sealed class RolloutControllerTests
{
    private static readonly RolloutConfig Settings = new() { Steps = [10, 50, 100], Interval = TimeSpan.FromSeconds(30), MinRequests = 10 };
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));
    private readonly Router _router = new();
    private readonly TrafficController _controller;

    public RolloutControllerTests()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.None;
        _controller = new TrafficController(_router, new BackendStateRegistry(), _time);
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
    }

    private int GreenShare => _router.Current.FindService("web")!.FindPool("green")!.Share;

    private void Serve(string pool, int requests, int status = 200)
    {
        foreach (var b in _router.Current.FindService("web")!.FindPool(pool)!.Backends)
        {
            for (var i = 0; i < requests; i++) b.State.Traffic.RecordRequest(status, 1000, 500, 10, 10);
        }
    }

    private void Pass(TimeSpan by)
    {
        _time.Advance(by);
        _controller.Tick();
    }

    [Fact]
    public void StartRollout_PublishesFirstStepAndPushesOneHistoryEntry()
    {
        var before = _controller.Generation;

        var result = _controller.StartRollout("web", "green", Settings);

        Assert.True(result.Changed);
        Assert.Equal(before + 1, result.Generation);
        Assert.Equal(10, GreenShare);
        Assert.StartsWith("rollout web green started from blue (ctl)", result.Summary);
    }

    [Fact]
    public void Tick_HealthyGreen_StepsThenSwapsAndRollbackReturnsToBlue()
    {
        _controller.StartRollout("web", "green", Settings);
        var shares = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            Serve("green", 20);
            Serve("blue", 20);
            Pass(TimeSpan.FromSeconds(30));
            shares.Add(GreenShare);
        }

        Assert.Equal([50, 100, 100], shares);
        Assert.Equal(RolloutPhase.Completed, _controller.RolloutOf("web")!.Phase);
        _controller.Rollback("web");
        Assert.Equal(0, GreenShare);
    }

    [Fact]
    public void Tick_GreenFails_RollsBackAtOnceWithEvent()
    {
        _controller.StartRollout("web", "green", Settings);
        Serve("green", 20, status: 500);

        Pass(TimeSpan.FromMilliseconds(100));

        Assert.Equal(0, GreenShare);
        Assert.Equal(RolloutPhase.RolledBack, _controller.RolloutOf("web")!.Phase);
        var e = _controller.Events.Since().Last(x => x.Kind == "rollout");
        Assert.False(e.Ok);
        Assert.Equal("rollout web green aborted at step 10%: error rate 100% > 1% over 0.1 s (20 requests)", e.Message);
        Assert.Throws<TrafficException>(() => _controller.Rollback("web")); // the rollout's history entry went with it
    }

    [Fact]
    public void Swap_DuringRollout_CancelsIt()
    {
        _controller.StartRollout("web", "green", Settings);

        _controller.Swap("web", "green");

        Assert.Equal(RolloutPhase.Cancelled, _controller.RolloutOf("web")!.Phase);
        Assert.Equal(100, GreenShare);
    }

    [Fact]
    public void StartRollout_WhileOneRuns_Refused()
    {
        _controller.StartRollout("web", "green", Settings);

        var ex = Assert.Throws<TrafficException>(() => _controller.StartRollout("web", "green", Settings));

        Assert.Contains("a rollout of web to green is running; abort it first", ex.Message);
    }

    [Fact]
    public void StartRollout_PoolAlreadyHasEverything_Refused()
    {
        var ex = Assert.Throws<TrafficException>(() => _controller.StartRollout("web", "blue", Settings));

        Assert.Contains("blue already has all of web's traffic", ex.Message);
    }

    [Fact]
    public void Load_ActiveChangedUnderRolloutBlock_StartsRolloutInsteadOfSwap()
    {
        var config = WebWithRollout(TestConfigs.Green);

        var result = _controller.Load(config);

        Assert.Equal(10, GreenShare);
        Assert.Contains("rollout web green started from blue (file)", result.Summary);
        Pass(TimeSpan.FromSeconds(1));
        _controller.Load(config); // the same file again: the rollout carries on
        Assert.Equal(RolloutPhase.Running, _controller.RolloutOf("web")!.Phase);
        Assert.Equal(10, GreenShare);
    }

    [Fact]
    public void Load_FileNamesTheBaselineAgain_CancelsRolloutAndFileWins()
    {
        _controller.Load(WebWithRollout(TestConfigs.Green));
        var blue = WebWithRollout(TestConfigs.Blue);

        _controller.Load(blue);

        Assert.Equal(RolloutPhase.Cancelled, _controller.RolloutOf("web")!.Phase);
        Assert.Equal(0, GreenShare);
    }

    [Fact]
    public void WriteStatus_ShowsRolloutWithWindow()
    {
        _controller.StartRollout("web", "green", Settings);
        Serve("green", 3);
        _time.Advance(TimeSpan.FromSeconds(5));

        var rollout = JsonDocument.Parse(ControllerJson.Status(_controller)).RootElement.GetProperty("services").GetProperty("web").GetProperty("rollout");

        Assert.Equal("running", rollout.GetProperty("state").GetString());
        Assert.Equal(10, rollout.GetProperty("share").GetInt32());
        Assert.Equal(3, rollout.GetProperty("window").GetProperty("pool_stats").GetProperty("requests").GetInt64());
        Assert.Equal(5000, rollout.GetProperty("window").GetProperty("elapsed_ms").GetInt64());
    }

    [Fact]
    public void ExportImport_RunningRollout_ContinuesAtTheSameStepAndWindowInTheNewController()
    {
        _controller.StartRollout("web", "green", Settings);
        Serve("green", 20);
        Serve("blue", 20);
        Pass(TimeSpan.FromSeconds(30)); // step 10% passed: 50% now
        Serve("green", 4);
        _time.Advance(TimeSpan.FromSeconds(12));
        _controller.FreezeRollouts(true);
        var state = Export(_controller);

        // The old controller no longer judges: its step would pass here, it stays.
        Serve("green", 20);
        Pass(TimeSpan.FromSeconds(30));
        Assert.Equal(50, GreenShare);

        var router = new Router();
        var next = new TrafficController(router, new BackendStateRegistry(), _time);
        next.Load(TestConfigs.Web(TestConfigs.Blue));
        var result = next.ImportState(state, "pid 1");
        Assert.Contains("rollout web green running at step 50% (2 of 3)", result.Summary);
        Assert.Equal(50, router.Current.FindService("web")!.FindPool("green")!.Share);
        var engine = next.RolloutOf("web")!;
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(42), engine.StepStartedAt); // the window kept its clock
        Assert.Single(engine.Verdicts);
        var (to, _) = engine.WindowSoFar(new RolloutSample(_time.GetUtcNow(), FastLb.Core.Metrics.TrafficTotals.Zero, FastLb.Core.Metrics.TrafficTotals.Zero));
        Assert.Equal(4, to.Requests); // the old process's figures of the window are carried

        // The new controller judges the window when it ends (already past: at its next tick), with its own traffic added.
        foreach (var b in router.Current.FindService("web")!.FindPool("green")!.Backends) b.State.Traffic.RecordRequest(200, 1000, 500, 10, 10);
        foreach (var b in router.Current.FindService("web")!.FindPool("blue")!.Backends) b.State.Traffic.RecordRequest(200, 1000, 500, 10, 10);
        for (var i = 0; i < 10; i++) foreach (var b in router.Current.FindService("web")!.FindPool("green")!.Backends) b.State.Traffic.RecordRequest(200, 1000, 500, 10, 10);
        next.Tick();
        Assert.Equal(100, router.Current.FindService("web")!.FindPool("green")!.Share);
        Assert.Equal(2, next.RolloutOf("web")!.Verdicts.Count);
        Assert.Equal("passed", next.RolloutOf("web")!.Verdicts[^1].OutcomeName);

        // Rollback after it returns to the assignment before the rollout, as in the old process.
        next.AbortRollout("web");
        Assert.Equal(0, router.Current.FindService("web")!.FindPool("green")!.Share);
    }

    [Fact]
    public void ExportImport_FileChangedTheService_RolloutNotContinued()
    {
        _controller.StartRollout("web", "green", Settings);
        var state = Export(_controller);

        var router = new Router();
        var next = new TrafficController(router, new BackendStateRegistry(), _time);
        next.Load(TestConfigs.Web(TestConfigs.Green));
        var result = next.ImportState(state, "pid 1");

        Assert.Contains("rollout web green not continued: the file changed the service's traffic settings", result.Summary);
        Assert.Null(next.RolloutOf("web"));
        Assert.Equal(100, router.Current.FindService("web")!.FindPool("green")!.Share);
    }

    private static JsonElement Export(TrafficController controller)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer)) controller.ExportState(w);
        return JsonDocument.Parse(Encoding.UTF8.GetString(buffer.WrittenSpan)).RootElement.Clone();
    }

    private static FastLbConfig WebWithRollout(Dictionary<string, int> shares)
    {
        var c = TestConfigs.Web(shares);
        return new FastLbConfig { SourcePath = c.SourcePath, Listeners = c.Listeners, Services = [WithRollout(c.Services[0])] };
    }

    private static ServiceConfig WithRollout(ServiceConfig s) => new()
    {
        Name = s.Name,
        Pools = s.Pools,
        Shares = s.Shares,
        DrainTimeout = s.DrainTimeout,
        Rollout = Settings,
    };
}
