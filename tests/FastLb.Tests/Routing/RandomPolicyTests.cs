using FastLb.Core.Routing;
using Xunit;
using static FastLb.Tests.Routing.RoutingFixtures;

namespace FastLb.Tests.Routing;

public class RandomPolicyTests
{
    [Fact]
    public void Pick_Weighted_DistributionWithinTolerance()
    {
        var backends = Backends(1, 2, 3, 4);
        var policy = new RandomPolicy(backends, new Random(21));

        var counts = Count(policy, 200_000);

        for (var i = 0; i < backends.Length; i++)
        {
            Assert.InRange(counts[backends[i]] / 200_000.0, (i + 1) / 10.0 - 0.01, (i + 1) / 10.0 + 0.01);
        }
    }

    [Fact]
    public void Pick_SameSeed_SameSequence()
    {
        var backends = Backends(1, 2, 3);
        var a = new RandomPolicy(backends, new Random(5));
        var b = new RandomPolicy(backends, new Random(5));

        for (var i = 0; i < 100; i++) Assert.Same(a.Pick(0, 0), b.Pick(0, 0));
    }

    [Fact]
    public void Pick_ThreadRandom_DistributionWithinTolerance()
    {
        var backends = Backends(1, 1, 2);
        var policy = new RandomPolicy(backends);

        var counts = Count(policy, 200_000);

        Assert.InRange(counts[backends[2]] / 200_000.0, 0.49, 0.51);
    }

    [Fact]
    public void Pick_HugeCoprimeWeights_BuildsBoundedTableKeepingShares()
    {
        var backends = new[] { RoutingFixtures.Backend(0, 1_000_000), RoutingFixtures.Backend(1, 999_999), RoutingFixtures.Backend(2, 1) };

        var policy = new RandomPolicy(backends, new Random(7));
        var counts = new int[3];
        for (var i = 0; i < 100_000; i++) counts[Array.IndexOf(backends, policy.Pick(0, 0))]++;

        Assert.InRange(counts[0] / 100_000.0, 0.48, 0.52);
        Assert.InRange(counts[1] / 100_000.0, 0.48, 0.52);
    }
}
