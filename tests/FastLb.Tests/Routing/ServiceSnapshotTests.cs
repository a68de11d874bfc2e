using FastLb.Core.Config;
using FastLb.Core.Routing;
using Xunit;
using static FastLb.Tests.Routing.RoutingFixtures;

namespace FastLb.Tests.Routing;

public class ServiceSnapshotTests
{
    [Fact]
    public void Pick_SplitNinetyTenWithWeightsThreeOne_ExactCompositeShares()
    {
        var blue = Backends(3, 1);
        var green = new[] { Backend(100, 1, pool: "green") };
        var service = Service(BalanceKind.RoundRobin, ("blue", 90, blue), ("green", 10, green));

        // Pool cycle 10 (9 blue, 1 green), blue cycle 4: 40 picks is one whole composite cycle.
        const int Picks = 40 * 250;
        var counts = new Dictionary<BackendSnapshot, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < Picks; i++)
        {
            var b = service.Pick(0, 0)!;
            counts[b] = counts.GetValueOrDefault(b) + 1;
        }

        Assert.Equal(0.675, counts[blue[0]] / (double)Picks);
        Assert.Equal(0.225, counts[blue[1]] / (double)Picks);
        Assert.Equal(0.100, counts[green[0]] / (double)Picks);
    }

    [Fact]
    public void Pick_SinglePoolActive_OnlyThatPool()
    {
        var blue = Backends(1, 1);
        var green = new[] { Backend(100, 1, pool: "green") };
        var service = Service(BalanceKind.RoundRobin, ("blue", 0, blue), ("green", 100, green));

        for (var i = 0; i < 100; i++) Assert.Same(green[0], service.Pick(0, 0));
    }

    [Fact]
    public void Pick_HashSplit_SharesWithinTolerance()
    {
        var blue = EqualBackends(4);
        var green = EqualBackends(2, firstId: 100);
        var service = Service(BalanceKind.Hash, ("blue", 90, blue), ("green", 10, green));
        var keys = new Random(61);
        var greenPicks = 0;

        for (var i = 0; i < 100_000; i++)
        {
            if (Array.IndexOf(green, service.Pick((ulong)keys.NextInt64(), 0)) >= 0) greenPicks++;
        }

        Assert.InRange(greenPicks / 100_000.0, 0.09, 0.11);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("LeastRequest")]
    [InlineData("Random")]
    [InlineData("Hash")]
    public void PickForAttempt_FirstBackendTried_RetryNamesTheOther(string balance)
    {
        var backends = EqualBackends(2);
        var service = Service(Enum.Parse<BalanceKind>(balance), ("blue", 100, backends));

        for (var i = 0; i < 50; i++)
        {
            var first = service.PickForAttempt(null, (ulong)i * 7919, 0, null, null)!;
            var retry = service.PickForAttempt(null, (ulong)i * 7919, 1, first, null);
            Assert.NotSame(first, retry);
        }
    }

    [Fact]
    public void PickForAttempt_PinnedPool_AvoidsTriedBackendInThatPool()
    {
        var blue = EqualBackends(1);
        var green = EqualBackends(2, firstId: 10);
        var service = Service(BalanceKind.RoundRobin, ("blue", 100, blue), ("green", 0, green));
        var pinned = service.FindPool("green");

        var first = service.PickForAttempt(pinned, 0, 0, null, null)!;
        var retry = service.PickForAttempt(pinned, 0, 1, first, null)!;

        Assert.Contains(first, green);
        Assert.Contains(retry, green);
        Assert.NotSame(first, retry);
    }
}
