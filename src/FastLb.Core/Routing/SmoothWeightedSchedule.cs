namespace FastLb.Core.Routing;

/// <summary>
/// Smooth weighted round-robin (nginx, 2012: every step each item's current += weight, the largest current
/// wins, ties to the lowest index, and the winner's current -= total), precomputed as one full cycle in which
/// each item appears weight/gcd times; 5,1,1 gives a a b a c a a.
/// Build cost, for n items, W = sum of reduced weights and D = number of distinct reduced weights:
/// equal weights O(n); D ≤ 16 runs exact nginx order in O(W·D + n log n) by grouping items of equal weight
/// (inside a group nginx visits members in index order, so a group is one cursor, not one current per item);
/// D &gt; 16 uses earliest-deadline-first on a heap in O(W log n) (the k-th turn of item i is due at
/// (k + 1/2)/w_i, i.e. Sainte-Laguë order; same exact shares, each item within one turn of its ideal count
/// at every prefix, but not nginx's tie order). Lookup O(1). Memory W ints: weights are expected to be small.
/// </summary>
internal static class SmoothWeightedSchedule
{
    /// <summary>Above this many distinct weights the O(W·D) exact path yields to the O(W log n) heap.</summary>
    internal const int MaxExactDistinctWeights = 16;

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
        if (total > Array.MaxLength) ThrowTooLong(total);
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
        var queue = new PriorityQueue<int, Turn>(keys.Length, TurnComparer.Instance);
        for (var i = 0; i < keys.Length; i++)
        {
            queue.Enqueue(i, new Turn(0, (int)(keys[i] >> 32), (int)(keys[i] & 0xFFFFFFFF)));
        }
        var schedule = new int[total];
        for (var s = 0; s < schedule.Length; s++)
        {
            queue.TryPeek(out var item, out var turn);
            schedule[s] = turn.Index;
            var next = turn with { Taken = turn.Taken + 1 };
            if (next.Taken < next.Weight) queue.DequeueEnqueue(item, next);
            else queue.Dequeue();
        }
        return schedule;
    }

    /// <summary>The next turn of one item: due at (2·Taken + 1) / (2·Weight) of the cycle.</summary>
    private readonly record struct Turn(int Taken, int Weight, int Index);

    private sealed class TurnComparer : IComparer<Turn>
    {
        public static readonly TurnComparer Instance = new();

        public int Compare(Turn x, Turn y)
        {
            // (2kx + 1)/wx vs (2ky + 1)/wy, cross-multiplied in 128 bits so large weights cannot overflow.
            var lhs = (Int128)(2L * x.Taken + 1) * y.Weight;
            var rhs = (Int128)(2L * y.Taken + 1) * x.Weight;
            var c = lhs.CompareTo(rhs);
            return c != 0 ? c : x.Index.CompareTo(y.Index);
        }
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowTooLong(long total) =>
        throw new ArgumentException($"weights reduce to a schedule of {total} slots; lower the weights (divide them by a common factor)");
}
