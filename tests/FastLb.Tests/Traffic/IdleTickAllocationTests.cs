using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using Xunit;

namespace FastLb.Tests.Traffic;

/// <summary>
/// An idle load balancer keeps its memory flat: the controller's tick (ten a second, forever) allocates nothing when
/// nothing changes, so an idle process never grows its heap towards a collection.
/// </summary>
public sealed class IdleTickAllocationTests
{
    [Fact]
    public void Tick_NothingChanges_AllocatesNothing()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.None;
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));
        var router = new Router();
        var controller = new TrafficController(router, new BackendStateRegistry(), time);
        controller.Load(TestConfigs.Web(TestConfigs.Blue));
        for (var i = 0; i < 50; i++) Step(controller, time); // first seconds: windows and history fill their slots

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) Step(controller, time); // 100 s of ticks
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static void Step(TrafficController controller, ManualTimeProvider time)
    {
        time.Advance(TimeSpan.FromMilliseconds(100));
        controller.Tick();
    }
}
