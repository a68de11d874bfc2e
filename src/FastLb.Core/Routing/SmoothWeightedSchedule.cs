namespace FastLb.Core.Routing;

/// <summary>
/// Smooth weighted round-robin (nginx, 2012), precomputed: one full cycle of item indexes in which each
/// item appears weight/gcd times, interleaved as smoothly as possible (5,1,1 gives a a b a c a a).
/// Build O(W log n) for W = sum of reduced weights; lookup O(1).
/// </summary>
internal static class SmoothWeightedSchedule
{
    /// <summary>Returns the cycle of indexes into <paramref name="weights"/>; weight 0 never appears.</summary>
    public static int[] Build(ReadOnlySpan<int> weights)
    {
        var g = 0;
        long total = 0;
        var positive = 0;
        foreach (var w in weights)
        {
            if (w <= 0) continue;
            g = g == 0 ? w : Gcd(g, w);
            total += w;
            positive++;
        }
        if (positive == 0) return [];
        total /= g;
        if (total == positive)
        {
            // All weights equal: the schedule is every positive item once, in order.
            var plain = new int[positive];
            var k = 0;
            for (var i = 0; i < weights.Length; i++)
            {
                if (weights[i] > 0) plain[k++] = i;
            }
            return plain;
        }

        var schedule = new int[total];
        var current = new long[weights.Length];
        for (var step = 0; step < schedule.Length; step++)
        {
            var best = -1;
            for (var i = 0; i < weights.Length; i++)
            {
                var w = weights[i];
                if (w <= 0) continue;
                current[i] += w / g;
                if (best < 0 || current[i] > current[best]) best = i;
            }
            current[best] -= total;
            schedule[step] = best;
        }
        return schedule;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
