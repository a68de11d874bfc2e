namespace FastLb.Core.Routing;

/// <summary>
/// Smooth weighted round-robin (nginx, 2012: every step each item's current += weight, the largest current
/// wins, ties to the lowest index, and the winner's current -= total), precomputed as one full cycle in which
/// each item appears weight/gcd times; 5,1,1 gives a a b a c a a.
/// Build cost, for n items, W = sum of reduced weights and D = number of distinct reduced weights:
/// equal weights O(n); D ≤ 16 runs exact nginx order in O(W·D + n log n) by grouping items of equal weight
/// (inside a group nginx visits members in index order, so a group is one cursor, not one current per item);
/// D &gt; 16 uses earliest-deadline-first on a heap in O(W log n) (the k-th turn of item i is due at
/// (k + 1/2)/w_i, i.e. Sainte-Laguë order; same exact shares and
/// every prefix within two turns of each item's ideal count, but not nginx's tie order). Lookup O(1). Memory W ints: weights are expected to be small.
/// </summary>
internal static class SmoothWeightedSchedule
{
    /// <summary>Above this many distinct weights the O(W·D) exact path yields to the O(W log n) heap.</summary>
    internal const int MaxExactDistinctWeights = 16;

    /// <summary>Longest cycle built; larger weight sums are scaled down to fit (shares then exact to about 1/MaxSlots).</summary>
    internal const int MaxSlots = 1 << 20;

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
        if (total > MaxSlots) return Build(ScaleDown(weights, total * g));
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

        // Sort positive items by (reduced weight, index) so equal weights form runs in index order.
        var keys = new long[positive];
        var n = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            if (weights[i] > 0) keys[n++] = ((long)(weights[i] / g) << 32) | (uint)i;
        }
        Array.Sort(keys);
        var distinct = 1;
        for (var i = 1; i < keys.Length; i++)
        {
            if (keys[i] >> 32 != keys[i - 1] >> 32) distinct++;
        }
        return distinct <= MaxExactDistinctWeights
            ? BuildExact(keys, distinct, (int)total)
            : BuildEdf(keys, (int)total);
    }

    /// <summary>Scales weights so their sum fits <see cref="MaxSlots"/>, keeping every positive weight at least 1.</summary>
    internal static int[] ScaleDown(ReadOnlySpan<int> weights, long sum)
    {
        var scaled = new int[weights.Length];
        var budget = MaxSlots - weights.Length; // the max(1, ..) floor can add at most one slot per item
        for (var i = 0; i < weights.Length; i++)
        {
            if (weights[i] > 0) scaled[i] = (int)Math.Max(1, (long)weights[i] * budget / sum);
        }
        return scaled;
    }

    private static int[] BuildExact(long[] keys, int distinct, int total)
    {
        // Group c holds members[start[c] .. start[c] + size[c]) in index order. After m picks of the group its
        // members at positions < pos have been picked q + 1 times and the rest q times (m = q·size + pos), so
        // the group's best current at step t is weight·t − total·q, held by member members[start + pos].
        var members = new int[keys.Length];
        var weight = new long[distinct];
        var start = new int[distinct];
        var size = new int[distinct];
        var c = -1;
        for (var i = 0; i < keys.Length; i++)
        {
            members[i] = (int)(keys[i] & 0xFFFFFFFF);
            var w = keys[i] >> 32;
            if (c < 0 || weight[c] != w)
            {
                c++;
                weight[c] = w;
                start[c] = i;
            }
            size[c]++;
        }
        var q = new long[distinct];
        var pos = new int[distinct];

        var schedule = new int[total];
        for (var t = 1; t <= total; t++)
        {
            var best = 0;
            var bestValue = long.MinValue;
            var bestMember = int.MaxValue;
            for (var k = 0; k < distinct; k++)
            {
                var value = weight[k] * t - total * q[k];
                var member = members[start[k] + pos[k]];
                if (value > bestValue || (value == bestValue && member < bestMember))
                {
                    best = k;
                    bestValue = value;
                    bestMember = member;
                }
            }
            schedule[t - 1] = bestMember;
            if (++pos[best] == size[best])
            {
                pos[best] = 0;
                q[best]++;
            }
        }
        return schedule;
    }

    private static int[] BuildEdf(long[] keys, int total)
    {
        // Binary min-heap of each item's next turn, keyed by due time (2·taken + 1) / (2·weight), ties by index.
        var n = keys.Length;
        var weight = new long[n];
        var index = new int[n];
        var taken = new long[n];
        var heap = new int[n];
        for (var i = 0; i < n; i++)
        {
            weight[i] = keys[i] >> 32;
            index[i] = (int)(keys[i] & 0xFFFFFFFF);
            heap[i] = i;
        }
        for (var i = n / 2 - 1; i >= 0; i--) SiftDown(heap, n, i);

        var schedule = new int[total];
        var size = n;
        for (var s = 0; s < schedule.Length; s++)
        {
            var top = heap[0];
            schedule[s] = index[top];
            if (++taken[top] == weight[top]) heap[0] = heap[--size];
            SiftDown(heap, size, 0);
        }
        return schedule;

        // (2ta + 1)·wb < (2tb + 1)·wa; both sides stay below 2^63 because taken < weight ≤ total ≤ Array.MaxLength.
        bool Before(int a, int b)
        {
            var lhs = (2 * taken[a] + 1) * weight[b];
            var rhs = (2 * taken[b] + 1) * weight[a];
            return lhs < rhs || (lhs == rhs && index[a] < index[b]);
        }

        void SiftDown(int[] h, int count, int i)
        {
            var item = h[i];
            while (true)
            {
                var child = 2 * i + 1;
                if (child >= count) break;
                if (child + 1 < count && Before(h[child + 1], h[child])) child++;
                if (!Before(h[child], item)) break;
                h[i] = h[child];
                i = child;
            }
            h[i] = item;
        }
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
