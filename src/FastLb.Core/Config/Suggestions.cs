namespace FastLb.Core.Config;

/// <summary>"Did you mean" hints by edit distance, and readable lists of valid choices.</summary>
internal static class Suggestions
{
    /// <summary>The candidate closest to <paramref name="input"/> within a small edit distance, or null.</summary>
    public static string? Closest(string input, IEnumerable<string> candidates)
    {
        // One edit for very short words, two otherwise; more would suggest unrelated names.
        var limit = input.Length <= 3 ? 1 : 2;
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            var d = Distance(input.ToLowerInvariant(), c.ToLowerInvariant());
            if (d <= limit && d < bestDistance)
            {
                best = c;
                bestDistance = d;
            }
        }
        return best;
    }

    /// <summary>"; did you mean 'x'?" or "" when nothing is close.</summary>
    public static string Hint(string input, IEnumerable<string> candidates)
    {
        var closest = Closest(input, candidates);
        return closest is null ? "" : $"; did you mean '{closest}'?";
    }

    /// <summary>"a, b, c", or "(none)".</summary>
    public static string List(IEnumerable<string> items)
    {
        var text = string.Join(", ", items);
        return text.Length == 0 ? "(none)" : text;
    }

    /// <summary>Optimal string alignment distance: Levenshtein plus adjacent transpositions, O(n*m).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
