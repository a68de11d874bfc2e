using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Health;

/// <summary>The traffic controller's health view: what a published table lets picks reach, the release gate, panic, slow start.</summary>
public class HealthControllerTests
{
    private static readonly CheckResult Pass = new(true, 200, null, TimeSpan.FromMilliseconds(1));
    private static readonly CheckResult Fail = new(false, 0, "connect refused", TimeSpan.FromMilliseconds(1));
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
    private readonly Router _router = new();
    private readonly TrafficController _controller;

    public HealthControllerTests()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.None;
        _controller = new TrafficController(_router, new BackendStateRegistry(_time), _time);
    }

    private static readonly HealthCheckConfig Check = new() { Interval = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromMilliseconds(500) };

    private static FastLbConfig Config(
        int blue = 2, int green = 2, HealthCheckConfig? check = null, OutlierConfig? outlier = null, int panic = 0,
        TimeSpan slowStart = default, int minHealthy = 100, string active = "blue") => new()
    {
        SourcePath = "test.yaml",
        Listeners = [new ListenerConfig { Name = "web", Bind = new EndPointConfig("127.0.0.1", 0), Protocol = ListenerProtocol.Tcp, Service = "web" }],
        Services =
        [
            new ServiceConfig
            {
                Name = "web",
                HealthCheck = check,
                Outlier = outlier,
                PanicThreshold = panic,
                SlowStart = slowStart,
                MinHealthyPercent = minHealthy,
                Pools =
                [
                    new PoolConfig { Name = "blue", Backends = [.. Enumerable.Range(1, blue).Select(i => new BackendConfig(new EndPointConfig($"10.0.0.{i}", 80), 1))] },
                    new PoolConfig { Name = "green", Backends = [.. Enumerable.Range(1, green).Select(i => new BackendConfig(new EndPointConfig($"10.0.1.{i}", 80), 1))] },
                ],
                Shares = new Dictionary<string, int> { ["blue"] = active == "blue" ? 100 : 0, ["green"] = active == "green" ? 100 : 0 },
            },
        ],
    };

    private PoolSnapshot PoolNow(string pool) => _router.Current.FindService("web")!.FindPool(pool)!;

    private void Report(string pool, int index, CheckResult result)
    {
        var b = PoolNow(pool).Backends[index];
        b.State.Health.RecordCheck(result, Check);
    }

    private void ReportAll(string pool, CheckResult result)
    {
        for (var i = 0; i < PoolNow(pool).Backends.Length; i++) Report(pool, i, result);
    }

    [Fact]
    public void Load_CheckedBackendsUnknown_TakeNoTrafficAndPoolAnswers503()
    {
        _controller.Load(Config(check: Check));

        var service = _router.Current.FindService("web")!;
        Assert.Null(service.Pick(1, 0, out var pool));
        Assert.Equal("blue", pool!.Name);
        Assert.True(pool.NothingHealthy);
        Assert.All(pool.Backends, b => Assert.Equal(BackendHealthState.Unknown, b.Health));
    }

    [Fact]
    public void RefreshHealth_FirstPass_PublishesTableWithBackendRoutable()
    {
        _controller.Load(Config(check: Check));
        var before = _router.Current.Generation;

        Report("blue", 0, Pass);
        _controller.RefreshHealth();

        Assert.Equal(before + 1, _router.Current.Generation);
        var service = _router.Current.FindService("web")!;
        for (var i = 0; i < 10; i++) Assert.Equal("10.0.0.1:80", service.Pick(1, 0)!.Address);
        _controller.RefreshHealth();
        Assert.Equal(before + 1, _router.Current.Generation); // nothing changed: no rebuild
    }

    [Fact]
    public void RefreshHealth_NoShareGreen_IsKnownBeforeItGetsTraffic()
    {
        _controller.Load(Config(check: Check));
        ReportAll("green", Pass);

        _controller.RefreshHealth();

        Assert.Equal(0, PoolNow("green").Share);
        Assert.Equal(2, PoolNow("green").HealthyCount);
    }

    [Fact]
    public void Swap_GreenNotHealthy_RefusedWithBackendNamesUnlessForced()
    {
        _controller.Load(Config(check: Check));
        ReportAll("blue", Pass);
        Report("green", 0, Pass);
        Report("green", 1, Fail);
        _controller.RefreshHealth();

        var refused = Assert.Throws<TrafficException>(() => _controller.Swap("web", "green"));
        Assert.Contains("green has 1 of 2 backends healthy, below min_healthy_percent 100%", refused.Message);
        Assert.Contains("10.0.1.2:80 unhealthy (connect refused)", refused.Message);
        Assert.Contains("--force", refused.Message);
        Assert.Equal(100, PoolNow("blue").Share);

        var forced = _controller.Swap("web", "green", force: true);
        Assert.True(forced.Changed);
        Assert.Single(forced.Warnings);
        Assert.Equal(100, PoolNow("green").Share);
    }

    [Fact]
    public void Split_PoolGainingTrafficHasNothingHealthy_Refused()
    {
        _controller.Load(Config(check: Check));
        ReportAll("blue", Pass);
        ReportAll("green", Fail);
        _controller.RefreshHealth();

        var refused = Assert.Throws<TrafficException>(() => _controller.Split("web", [new("blue", 90), new("green", 10)]));

        Assert.Contains("green has no healthy backend (0 of 2): 10.0.1.1:80 unhealthy (connect refused), 10.0.1.2:80 unhealthy (connect refused)", refused.Message);
    }

    [Fact]
    public void Swap_NoCheckConfigured_GateOnlyNeedsOneHealthy()
    {
        _controller.Load(Config(minHealthy: 100));

        Assert.True(_controller.Swap("web", "green").Changed);
    }

    [Fact]
    public void Rollback_ToUnhealthyPool_NeverRefusedButWarns()
    {
        _controller.Load(Config(check: Check));
        ReportAll("blue", Pass);
        ReportAll("green", Pass);
        _controller.RefreshHealth();
        _controller.Swap("web", "green");
        for (var i = 0; i < 3; i++) ReportAll("blue", Fail);
        _controller.RefreshHealth();

        var back = _controller.Rollback("web");

        Assert.True(back.Changed);
        Assert.Equal(100, PoolNow("blue").Share);
        Assert.Contains(back.Warnings, w => w.Contains("rolled back to an unhealthy pool: blue has no healthy backend"));
    }

    [Fact]
    public void PanicThreshold_FewHealthy_PoolIgnoresHealth()
    {
        _controller.Load(Config(blue: 4, check: Check, panic: 50));
        Report("blue", 0, Pass);
        for (var i = 1; i < 4; i++) Report("blue", i, Fail);
        _controller.RefreshHealth();

        var pool = PoolNow("blue");
        Assert.True(pool.Panic);
        Assert.Equal(1, pool.HealthyCount);
        var seen = new HashSet<string>();
        for (var i = 0; i < 40; i++) seen.Add(_router.Current.FindService("web")!.Pick(1, 0)!.Address);
        Assert.Equal(4, seen.Count);

        Report("blue", 1, Pass);
        Report("blue", 1, Pass);
        _controller.RefreshHealth();
        Assert.False(PoolNow("blue").Panic); // 2 of 4 is not below 50%
        Assert.True(_router.Current.FindService("web")!.Pick(1, 0) is { } b && b.Address is "10.0.0.1:80" or "10.0.0.2:80");
    }

    [Fact]
    public void Ejection_RefreshHealth_TakesBackendOutThenReturnsAfterItsTime()
    {
        _controller.Load(Config(outlier: new OutlierConfig { ConsecutiveFailures = 2, BaseEjection = TimeSpan.FromSeconds(10) }));
        var victim = PoolNow("blue").Backends[0].State;

        victim.RecordFailure("connect failed");
        victim.RecordFailure("connect failed");
        _controller.RefreshHealth();

        var pool = PoolNow("blue");
        Assert.Equal(BackendHealthState.Ejected, pool.Backends[0].Health);
        for (var i = 0; i < 10; i++) Assert.Equal("10.0.0.2:80", _router.Current.FindService("web")!.Pick(1, 0)!.Address);
        Assert.Contains("\"health\":\"ejected\"", StatusJson());

        _time.Advance(TimeSpan.FromSeconds(10));
        _controller.RefreshHealth();
        Assert.Equal(BackendHealthState.Healthy, PoolNow("blue").Backends[0].Health);
        Assert.True(PoolNow("blue").Backends[0].Routable);
    }

    [Fact]
    public void SlowStart_ReturningBackend_ShareFollowsRampAndRebuildsAreRateLimited()
    {
        _controller.Load(Config(check: Check, slowStart: TimeSpan.FromSeconds(10)));
        ReportAll("blue", Pass);
        ReportAll("green", Pass);
        _time.Advance(TimeSpan.FromSeconds(20)); // the start-up ramps are over
        _controller.RefreshHealth();
        for (var i = 0; i < 3; i++) Report("blue", 1, Fail);
        _controller.RefreshHealth();
        Report("blue", 1, Pass);
        Report("blue", 1, Pass); // healthy again: ramps from 10%
        _controller.RefreshHealth();

        var generation = _router.Current.Generation;
        var shares = new List<double>();
        for (var step = 0; step <= 10; step++)
        {
            var counts = CountPicks(2000);
            shares.Add(counts.GetValueOrDefault("10.0.0.2:80") / 2000.0);
            for (var t = 0; t < 10; t++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(100));
                _controller.RefreshHealth();
            }
        }

        // Share of the returning backend = f / (1 + f) with f ramping 0.1 → 1 over 10 s.
        for (var step = 0; step <= 10; step++)
        {
            var f = SlowStart.Factor(TimeSpan.FromSeconds(step), TimeSpan.FromSeconds(10));
            Assert.InRange(shares[step], f / (1 + f) - 0.05, f / (1 + f) + 0.05);
        }
        // 10 s of 100 ms ticks: at most 4 rebuilds a second, plus the last one that ends the ramp.
        Assert.InRange(_router.Current.Generation - generation, 10, 41);
    }

    private Dictionary<string, int> CountPicks(int n)
    {
        var counts = new Dictionary<string, int>();
        var service = _router.Current.FindService("web")!;
        for (var i = 0; i < n; i++)
        {
            var a = service.Pick((ulong)i, 0)!.Address;
            counts[a] = counts.GetValueOrDefault(a) + 1;
        }
        return counts;
    }

    private string StatusJson() => ControllerJson.Status(_controller);

    [Fact]
    public void Status_ShowsHealthFieldsPerBackendAndPool()
    {
        _controller.Load(Config(check: Check));
        Report("blue", 0, Pass);
        Report("blue", 1, Fail);
        _controller.RefreshHealth();

        using var doc = JsonDocument.Parse(StatusJson());
        var blue = doc.RootElement.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue");
        Assert.Equal(1, blue.GetProperty("healthy").GetInt32());
        Assert.Equal(2, blue.GetProperty("total").GetInt32());
        Assert.False(blue.GetProperty("panic").GetBoolean());
        Assert.False(blue.GetProperty("gate").GetProperty("ok").GetBoolean());
        var down = blue.GetProperty("backends")[1];
        Assert.Equal("unhealthy", down.GetProperty("health").GetString());
        Assert.Equal(0, down.GetProperty("effective_weight").GetDouble());
        Assert.Equal("connect refused", down.GetProperty("last_check").GetProperty("error").GetString());
        Assert.Equal(1, down.GetProperty("checks_failed_in_row").GetInt32());
        var up = blue.GetProperty("backends")[0];
        Assert.Equal("healthy", up.GetProperty("health").GetString());
        Assert.Equal(200, up.GetProperty("last_check").GetProperty("status_code").GetInt32());
    }
}
