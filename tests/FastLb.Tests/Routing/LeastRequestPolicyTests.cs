using FastLb.Core.Routing;
using Xunit;
using static FastLb.Tests.Routing.RoutingFixtures;

namespace FastLb.Tests.Routing;

public class LeastRequestPolicyTests
{
    [Fact]
    public void Pick_TwoBackendsOneLoaded_AlwaysLessLoaded()
    {
        var backends = Backends(1, 1);
        for (var i = 0; i < 5; i++) backends[0].State.Acquire(null);
        var policy = new LeastRequestPolicy(backends, new Random(11));

        var counts = Count(policy, 10_000);

        Assert.Equal(10_000, counts[backends[1]]);
    }

    [Fact]
    public void Pick_ManyBackendsOneLoaded_LoadedAvoided()
    {
        var backends = EqualBackends(8);
        backends[3].State.Acquire(null);
        var policy = new LeastRequestPolicy(backends, new Random(12));

        var counts = Count(policy, 40_000);

        // P2C compares two distinct backends, so the busy one loses every comparison it is drawn into.
        Assert.False(counts.ContainsKey(backends[3]));
        foreach (var (b, n) in counts) Assert.InRange(n / 40_000.0, 1 / 7.0 - 0.02, 1 / 7.0 + 0.02);
    }

    [Fact]
    public void Pick_UnevenLoad_PrefersLowerLivePerWeight()
    {
        var backends = Backends(2, 1);
        for (var i = 0; i < 4; i++) backends[0].State.Acquire(null); // 4 live / weight 2 = 2
        for (var i = 0; i < 3; i++) backends[1].State.Acquire(null); // 3 live / weight 1 = 3
        var policy = new LeastRequestPolicy(backends, new Random(13));

        var counts = Count(policy, 1_000);

        Assert.Equal(1_000, counts[backends[0]]);
    }

    [Fact]
    public void Pick_AllIdleWeighted_FollowsWeights()
    {
        var backends = Backends(3, 1);
        var policy = new LeastRequestPolicy(backends, new Random(14));

        var counts = Count(policy, 100_000);

        Assert.InRange(counts[backends[0]] / 100_000.0, 0.74, 0.76);
    }

    [Fact]
    public void Pick_LiveLoadFeedback_BalancesInFlightByWeight()
    {
        // Each pick stays in flight for a while: the policy should keep live counts near 3:1 for weights 3,1.
        var backends = Backends(3, 1);
        var policy = new LeastRequestPolicy(backends, new Random(15));
        var inFlight = new Queue<BackendSnapshot>();
        for (var i = 0; i < 20_000; i++)
        {
            var b = policy.Pick(0, 0)!;
            b.State.Acquire(null);
            inFlight.Enqueue(b);
            if (inFlight.Count > 40) inFlight.Dequeue().State.Release(null);
        }

        Assert.InRange(backends[0].State.Live, 28, 32);
    }
}
