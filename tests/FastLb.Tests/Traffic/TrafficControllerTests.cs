using System.Text.Json;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using Xunit;

namespace FastLb.Tests.Traffic;

public class TrafficControllerTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));
    private readonly Router _router = new();
    private readonly TrafficController _controller;
    private readonly FakeConnectionDirectory _connections = new();

    public TrafficControllerTests()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.None;
        _controller = new TrafficController(_router, new BackendStateRegistry(), _time) { Connections = _connections };
    }

    private Dictionary<string, int> SharesNow()
    {
        var result = new Dictionary<string, int>();
        foreach (var p in _router.Current.FindService("web")!.Pools) result[p.Name] = p.Share;
        return result;
    }

    private string StatusJson() => ControllerJson.Status(_controller);

    [Fact]
    public void Swap_ActivePoolChanges_PublishesNextGenerationWithAllTrafficOnTarget()
    {
        var first = _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var result = _controller.Swap("web", "green");

        Assert.Equal(first.Generation + 1, result.Generation);
        Assert.Equal(result.Generation, _router.Current.Generation);
        Assert.Equal(TestConfigs.Green, SharesNow());
        for (var i = 0; i < 20; i++) Assert.Equal("green", _router.Current.FindService("web")!.Pick(0, 0)!.State.Pool);
    }

    [Fact]
    public void Swap_SamePool_ReportsNoChangeAndKeepsGeneration()
    {
        var first = _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var result = _controller.Swap("web", "blue");

        Assert.False(result.Changed);
        Assert.Equal(first.Generation, result.Generation);
    }

    [Fact]
    public void Swap_UnknownPool_ErrorNamesValidPools()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var e = Assert.Throws<TrafficException>(() => _controller.Swap("web", "gren"));

        Assert.Equal("unknown pool 'gren' in service 'web'; pools are: blue, green", e.Message);
    }

    [Fact]
    public void Swap_UnknownService_ErrorNamesValidServices()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var e = Assert.Throws<TrafficException>(() => _controller.Swap("api", "blue"));

        Assert.Contains("services are: web", e.Message);
    }

    [Fact]
    public void Rollback_AfterSplitThenSwap_StepsBackInReverseOrder()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.Split("web", [new("blue", 90), new("green", 10)]);
        _controller.Swap("web", "green");

        _controller.Rollback("web");
        Assert.Equal(new Dictionary<string, int> { ["blue"] = 90, ["green"] = 10 }, SharesNow());

        _controller.Rollback("web");
        Assert.Equal(TestConfigs.Blue, SharesNow());

        var e = Assert.Throws<TrafficException>(() => _controller.Rollback("web"));
        Assert.Contains("nothing to roll back", e.Message);
    }

    [Fact]
    public void Split_AllZero_Refused()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        Assert.Throws<TrafficException>(() => _controller.Split("web", [new("blue", 0), new("green", 0)]));
    }

    [Fact]
    public void Split_SharesNotAddingUpTo100_RefusedWithTheSum()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var e = Assert.Throws<TrafficException>(() => _controller.Split("web", [new("blue", 90)]));

        Assert.StartsWith("shares add up to 90, not 100", e.Message);
    }

    [Fact]
    public void Reload_FileUnchanged_KeepsRuntimeSwap()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.Swap("web", "green");

        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        Assert.Equal(TestConfigs.Green, SharesNow());
        Assert.Contains("\"source\":\"runtime\"", StatusJson());
    }

    [Fact]
    public void Reload_FileChangedShares_FileWins()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.Swap("web", "green");

        _controller.Load(TestConfigs.Web(new Dictionary<string, int> { ["blue"] = 50, ["green"] = 50 }));

        Assert.Equal(new Dictionary<string, int> { ["blue"] = 50, ["green"] = 50 }, SharesNow());
        Assert.Contains("\"source\":\"file\"", StatusJson());
    }

    [Fact]
    public void Reload_FileWeightUnchanged_KeepsRuntimeWeight_FileWeightChanged_DropsIt()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.SetWeight("web", "blue", "10.0.0.1:80", 7);

        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        Assert.Equal(7, _router.Current.FindService("web")!.FindPool("blue")!.Backends[0].Weight);

        _controller.Load(TestConfigs.Web(TestConfigs.Blue, blueWeight: 3));
        Assert.Equal(3, _router.Current.FindService("web")!.FindPool("blue")!.Backends[0].Weight);
    }

    [Fact]
    public void Drain_Backend_TakesNoNewTrafficUntilEnabled()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));

        _controller.Drain("web", "blue", "10.0.0.1:80");
        for (var i = 0; i < 10; i++) Assert.Equal("10.0.0.2:80", _router.Current.FindService("web")!.Pick(0, 0)!.Address);

        _controller.Enable("web", "blue", "10.0.0.1:80");
        var seen = new HashSet<string>();
        for (var i = 0; i < 10; i++) seen.Add(_router.Current.FindService("web")!.Pick(0, 0)!.Address);
        Assert.Contains("10.0.0.1:80", seen);
    }

    [Fact]
    public void Swap_LiveConnectionOnBlue_DrainsAndIsAbortedAtDeadline()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue, drainTimeout: TimeSpan.FromSeconds(30)));
        var blue = _router.Current.FindService("web")!.FindPool("blue")!.Backends[0].State;
        var connection = _connections.Open(blue);

        _controller.Swap("web", "green");
        _controller.Tick();
        var drain = Assert.Single(_controller.Drains);
        Assert.Equal("blue", drain.Pool);
        Assert.Equal(1, drain.Live);
        Assert.Null(drain.DrainedAt);
        Assert.Contains("\"deadline\":\"2026-11-26T10:00:30.000Z\"", StatusJson());

        _time.Advance(TimeSpan.FromSeconds(29));
        _controller.Tick();
        Assert.False(connection.Aborted);

        _time.Advance(TimeSpan.FromSeconds(2));
        _controller.Tick();
        Assert.True(connection.Aborted);
        _controller.Tick();
        Assert.NotNull(drain.DrainedAt);
        Assert.Equal(1, drain.Aborted);
    }

    [Fact]
    public void Swap_ConnectionClosesBeforeDeadline_RecordsDrainedAt()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        var blue = _router.Current.FindService("web")!.FindPool("blue")!.Backends[1].State;
        var connection = _connections.Open(blue);
        _controller.Swap("web", "green");

        _time.Advance(TimeSpan.FromSeconds(3));
        connection.Close();
        _controller.Tick();

        var drain = Assert.Single(_controller.Drains);
        Assert.Equal(_time.GetUtcNow(), drain.DrainedAt);
        Assert.False(connection.Aborted);
    }

    [Fact]
    public void Rollback_DrainingPoolGetsTrafficBack_DrainEnds()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.Swap("web", "green");
        Assert.Single(_controller.Drains);

        _controller.Rollback("web");

        var drain = Assert.Single(_controller.Drains);
        Assert.Equal("green", drain.Pool);
    }

    [Fact]
    public void Status_AfterSwap_ShowsSharesSourcePreviousAndDraining()
    {
        _controller.Load(TestConfigs.Web(TestConfigs.Blue));
        _controller.Swap("web", "green");

        using var doc = JsonDocument.Parse(StatusJson());
        var web = doc.RootElement.GetProperty("services").GetProperty("web");

        Assert.Equal(100, web.GetProperty("shares").GetProperty("green").GetInt32());
        Assert.Equal(100, web.GetProperty("previous").GetProperty("blue").GetInt32());
        Assert.Equal("runtime", web.GetProperty("source").GetString());
        Assert.Equal(JsonValueKind.Object, web.GetProperty("pools").GetProperty("blue").GetProperty("draining").ValueKind);
        Assert.Equal(JsonValueKind.Null, web.GetProperty("pools").GetProperty("green").GetProperty("draining").ValueKind);
    }

    [Fact]
    public void Reload_BackendRemovedFromFile_IdleStateLeavesRegistry()
    {
        var registry = new BackendStateRegistry();
        var controller = new TrafficController(_router, registry, _time);
        controller.Load(TestConfigs.Web(TestConfigs.Blue));
        var smaller = TestConfigs.Web(TestConfigs.Blue);
        var service = smaller.Services[0];
        var trimmed = new FastLb.Core.Config.FastLbConfig
        {
            SourcePath = smaller.SourcePath,
            Listeners = smaller.Listeners,
            Services =
            [
                new FastLb.Core.Config.ServiceConfig
                {
                    Name = service.Name,
                    Shares = service.Shares,
                    Pools = [service.Pools[0], new FastLb.Core.Config.PoolConfig { Name = "green", Backends = [] }],
                },
            ],
        };

        controller.Load(trimmed);

        Assert.NotNull(registry.Find("web", "blue", "10.0.0.1:80"));
        Assert.Null(registry.Find("web", "green", "10.0.1.1:80"));
    }
}
