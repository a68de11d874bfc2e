using FastLb.Core.Routing;
using Xunit;

namespace FastLb.Tests.Routing;

public class SmoothWeightedScheduleTests
{
    [Fact]
    public void Build_FiveOneOne_NginxSmoothOrder()
    {
        var schedule = SmoothWeightedSchedule.Build([5, 1, 1]);

        Assert.Equal([0, 0, 1, 0, 2, 0, 0], schedule);
    }

    [Theory]
    [InlineData(new[] { 5, 1, 1 })]
    [InlineData(new[] { 3, 1 })]
    [InlineData(new[] { 4, 2, 2, 0, 6 })]
    [InlineData(new[] { 7, 11, 13, 1 })]
    [InlineData(new[] { 100, 1 })]
    [InlineData(new[] { 2, 2, 2 })]
    [InlineData(new[] { 0, 9 })]
    public void Build_WeightSets_ExactSharesPerCycle(int[] weights)
    {
        var schedule = SmoothWeightedSchedule.Build(weights);
        var g = 0;
        foreach (var w in weights)
        {
            if (w > 0) g = g == 0 ? w : Gcd(g, w);
        }

        var counts = new int[weights.Length];
        foreach (var i in schedule) counts[i]++;
        for (var i = 0; i < weights.Length; i++) Assert.Equal(weights[i] / g, counts[i]);
    }

    [Fact]
    public void Build_FewDistinctWeights_MatchesNginxReference()
    {
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var weights = new int[random.Next(1, 40)];
            var palette = new int[random.Next(1, SmoothWeightedSchedule.MaxExactDistinctWeights + 1)];
            for (var i = 0; i < palette.Length; i++) palette[i] = random.Next(0, 12);
            for (var i = 0; i < weights.Length; i++) weights[i] = palette[random.Next(palette.Length)];

            Assert.Equal(NginxReference(weights), SmoothWeightedSchedule.Build(weights));
        }
    }

    [Fact]
    public void Build_ManyDistinctWeights_ExactSharesAndSmoothPrefixes()
    {
        var weights = new int[300];
        for (var i = 0; i < weights.Length; i++) weights[i] = 1 + i % 37; // 37 distinct weights: heap path
        long total = 0;
        foreach (var w in weights) total += w;

        var schedule = SmoothWeightedSchedule.Build(weights);

        Assert.Equal(total, schedule.Length);
        var counts = new int[weights.Length];
        var worst = 0.0;
        for (var p = 0; p < schedule.Length; p++)
        {
            counts[schedule[p]]++;
            if (p % 97 != 0) continue;
            for (var i = 0; i < weights.Length; i++) worst = Math.Max(worst, Math.Abs(counts[i] - (p + 1.0) * weights[i] / total));
        }
        for (var i = 0; i < weights.Length; i++) Assert.Equal(weights[i], counts[i]);
        Assert.True(worst < 2.0, $"a prefix strayed {worst:F2} turns from its ideal count");
    }

    [Fact]
    public void Build_ManyDistinctWeights_MatchesSortedDueTimes()
    {
        var random = new Random(9);
        var weights = new int[120];
        for (var i = 0; i < weights.Length; i++) weights[i] = random.Next(0, 60);

        // Every turn k of item i is due at (2k + 1) / (2w_i); the schedule is all turns in due order, ties by index.
        var turns = new List<(int K, int W, int I)>();
        for (var i = 0; i < weights.Length; i++)
        {
            for (var k = 0; k < weights[i]; k++) turns.Add((k, weights[i], i));
        }
        turns.Sort((x, y) =>
        {
            var c = ((2L * x.K + 1) * y.W).CompareTo((2L * y.K + 1) * x.W);
            return c != 0 ? c : x.I.CompareTo(y.I);
        });

        Assert.Equal(turns.Select(t => t.I), SmoothWeightedSchedule.Build(weights));
    }

    [Fact]
    public void Build_AllZero_Empty()
    {
        Assert.Empty(SmoothWeightedSchedule.Build([0, 0]));
        Assert.Empty(SmoothWeightedSchedule.Build([]));
    }

    [Fact]
    public void Build_ThousandEqualWeights_EachOnceInOrder()
    {
        var weights = new int[1000];
        Array.Fill(weights, 3);

        var schedule = SmoothWeightedSchedule.Build(weights);

        Assert.Equal(Enumerable.Range(0, 1000), schedule);
    }

    private static int[] NginxReference(int[] weights)
    {
        var current = new long[weights.Length];
        long total = 0;
        var g = 0;
        foreach (var w in weights)
        {
            if (w <= 0) continue;
            total += w;
            g = g == 0 ? w : Gcd(g, w);
        }
        if (total == 0) return [];
        total /= g;
        var schedule = new int[total];
        for (var s = 0; s < total; s++)
        {
            var best = -1;
            for (var i = 0; i < weights.Length; i++)
            {
                if (weights[i] <= 0) continue;
                current[i] += weights[i] / g;
                if (best < 0 || current[i] > current[best]) best = i;
            }
            current[best] -= total;
            schedule[s] = best;
        }
        return schedule;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    [Fact]
    public void Build_HugeCoprimeWeights_ScaledToBoundedCycleKeepingShares()
    {
        int[] weights = [1_000_000, 999_999, 1];

        var schedule = SmoothWeightedSchedule.Build(weights);

        Assert.True(schedule.Length <= SmoothWeightedSchedule.MaxSlots);
        var counts = new int[3];
        foreach (var i in schedule) counts[i]++;
        Assert.InRange(counts[0] / (double)schedule.Length, 0.4999, 0.5001);
        Assert.True(counts[2] >= 1);
    }
}
