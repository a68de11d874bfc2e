using FastLb.Core.Routing;
using Xunit;
using static FastLb.Tests.Routing.RoutingFixtures;

namespace FastLb.Tests.Routing;

public class RoundRobinPolicyTests
{
    [Fact]
    public void Pick_FiveOneOne_SmoothSequenceRepeats()
    {
        var backends = Backends(5, 1, 1);
        var policy = new RoundRobinPolicy(backends);
        int[] cycle = [0, 0, 1, 0, 2, 0, 0];

        for (var i = 0; i < cycle.Length * 3; i++) Assert.Same(backends[cycle[i % cycle.Length]], policy.Pick(0, 0));
    }

    [Fact]
    public void Pick_UnhealthyBackend_HasNoSlot()
    {
        var backends = WithDown(Backends(5, 1, 1), 1);
        var policy = new RoundRobinPolicy(backends);

        var picks = Enumerable.Range(0, 12).Select(_ => Array.IndexOf(backends, policy.Pick(0, 0))).ToArray();

        Assert.DoesNotContain(1, picks); // the table builder gave it no weight: the schedule is a 5:1 cycle of a and c
        Assert.Equal(10, picks.Count(i => i == 0));
        Assert.Equal(2, picks.Count(i => i == 2));
    }

    [Fact]
    public async Task Pick_TwoThreadsConcurrently_ExactSharesOverWholeCycles()
    {
        var backends = Backends(3, 1);
        var policy = new RoundRobinPolicy(backends);
        const int PerThread = 200_000;
        var counts = new int[2, 2];

        var tasks = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++) counts[t, policy.Pick(0, 0) == backends[0] ? 0 : 1]++;
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));

        // 400,000 cursor values over a cycle of 4: every slot served exactly 100,000 times, whoever took it.
        Assert.Equal(300_000, counts[0, 0] + counts[1, 0]);
        Assert.Equal(100_000, counts[0, 1] + counts[1, 1]);
    }
}
