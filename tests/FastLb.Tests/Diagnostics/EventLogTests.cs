using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Diagnostics;

public class EventLogTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Since_MoreThanCapacity_KeepsTheNewestThousandInOrder()
    {
        var log = new EventLog(_time);
        for (var i = 1; i <= 1500; i++) log.Append("test", $"event {i}");

        var all = log.Since();

        Assert.Equal(EventLog.Capacity, all.Count);
        Assert.Equal(501, all[0].Sequence);
        Assert.Equal("event 1500", all[^1].Message);
        Assert.Equal([1499, 1500], log.Since(1498).Select(e => e.Sequence));
        Assert.Equal([1498, 1499, 1500], log.Since(limit: 3).Select(e => e.Sequence));
        Assert.Empty(log.Since(1500));
    }

    [Fact]
    public void Controller_SwapThenDrainEnds_RecordsSwapDrainStartAndFinish()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = LogLevel.None;
        var controller = new TrafficController(new Router(), new BackendStateRegistry(), _time) { Connections = new FakeConnectionDirectory() };
        controller.Load(TestConfigs.Web(TestConfigs.Blue));

        var swap = controller.Swap("web", "green");
        _time.Advance(TimeSpan.FromSeconds(1.2));
        controller.Tick();

        var events = controller.Events.Since();
        Assert.Equal(["swap", "drain_started", "drain_finished"], events.Select(e => e.Kind));
        Assert.Equal("web", events[0].Service);
        Assert.Equal(swap.Generation, events[0].Generation);
        Assert.Equal("blue", events[2].Pool);
        Assert.Contains("drained in 1.2s", events[2].Message);
    }
}
