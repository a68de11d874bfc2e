using FastLb.Core.Config;
using FastLb.Core.Routing;
using Xunit;
using static FastLb.Tests.Routing.RoutingFixtures;

namespace FastLb.Tests.Routing;

/// <summary>Contract every balancer keeps: weight 0, health, fail-open, no allocation.</summary>
public class SelectionPolicyTests
{
    // BalanceKind is internal, so theories take its name.
    public static TheoryData<string> Kinds => [nameof(BalanceKind.RoundRobin), nameof(BalanceKind.LeastRequest), nameof(BalanceKind.Random), nameof(BalanceKind.Hash)];

    [Theory]
    [InlineData(nameof(BalanceKind.RoundRobin), typeof(RoundRobinPolicy))]
    [InlineData(nameof(BalanceKind.LeastRequest), typeof(LeastRequestPolicy))]
    [InlineData(nameof(BalanceKind.Random), typeof(RandomPolicy))]
    [InlineData(nameof(BalanceKind.Hash), typeof(MaglevPolicy))]
    public void Create_Kind_ReturnsMatchingPolicy(string kindName, Type expected)
    {
        Assert.IsType(expected, SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), Backends(1, 2)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_ZeroWeight_NeverChosen(string kindName)
    {
        var backends = Backends(2, 0, 1, 0, 3);
        var policy = SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), backends);

        var counts = Count(policy, 20_000);

        Assert.False(counts.ContainsKey(backends[1]));
        Assert.False(counts.ContainsKey(backends[3]));
        Assert.Equal(3, counts.Count);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_NoPositiveWeight_ReturnsNull(string kindName)
    {
        Assert.Null(SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), Backends(0, 0)).Pick(42, 0));
        Assert.Null(SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), []).Pick(42, 0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_UnhealthyBackends_Skipped(string kindName)
    {
        var backends = WithDown(Backends(1, 1, 1, 1, 1), 1, 3);
        var policy = SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), backends);

        var counts = Count(policy, 20_000);

        Assert.False(counts.ContainsKey(backends[1]));
        Assert.False(counts.ContainsKey(backends[3]));
        Assert.Equal(3, counts.Count);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_OneHealthyAmongMany_FindsIt(string kindName)
    {
        var backends = WithDown(EqualBackends(200), [.. Enumerable.Range(0, 200).Where(i => i != 137)]);
        var policy = SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), backends);

        var counts = Count(policy, 2_000);

        Assert.Equal(2_000, counts[backends[137]]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_AllUnhealthy_ReturnsNull(string kindName)
    {
        // Nothing healthy answers 503 (the pool's panic_threshold, not the balancer, decides to ignore health).
        var backends = WithDown(Backends(1, 0, 2), 0, 1, 2);
        var policy = SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), backends);

        for (var i = 0; i < 100; i++) Assert.Null(policy.Pick((ulong)i * 7919, i & 1));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pick_SteadyState_AllocatesNothing(string kindName)
    {
        var policy = SelectionPolicyFactory.Create(Enum.Parse<BalanceKind>(kindName), Backends(3, 1, 2, 5));
        for (var i = 0; i < 1_000; i++) policy.Pick((ulong)i, i & 1);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) policy.Pick((ulong)i * 0x9E3779B97F4A7C15UL, i & 1);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }
}
