namespace FastLb.Core.Metrics;

/// <summary>
/// Latency histogram bins in microseconds: ten per decade (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 × 10^k) from 100 µs to
/// 80 s, plus one overflow bin. Every Prometheus bucket bound FastLb exports (0.5 ms … 10 s) is a bin bound, so the
/// exported buckets are exact sums of bins, and quantiles interpolate within a bin (at most 50% wide).
/// </summary>
internal static class LatencyBins
{
    private static readonly long[] Bounds = BuildBounds();

    /// <summary>Bins per histogram, the overflow bin included.</summary>
    public static readonly int Count = Bounds.Length + 1;

    /// <summary>The Prometheus bucket bounds exported, in seconds.</summary>
    public static readonly double[] ExportedSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>For each exported bound, the index of the last bin it covers.</summary>
    public static readonly int[] ExportedLastBin = BuildExported();

    /// <summary>The upper bound of bin <paramref name="bin"/> in microseconds (the overflow bin reports the last bound).</summary>
    public static long UpperMicros(int bin) => Bounds[Math.Min(bin, Bounds.Length - 1)];

    /// <summary>The bin of a duration of <paramref name="micros"/> µs: a binary search over 60 bounds, no allocation.</summary>
    public static int Of(long micros)
    {
        var bounds = Bounds;
        int lo = 0, hi = bounds.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >> 1;
            if (micros <= bounds[mid]) hi = mid;
            else lo = mid + 1;
        }
        return lo; // bounds.Length: overflow
    }

    /// <summary>The <paramref name="q"/> quantile (0..1) of <paramref name="bins"/> in seconds, interpolated within its bin; 0 when empty.</summary>
    public static double Quantile(ReadOnlySpan<long> bins, double q)
    {
        long total = 0;
        foreach (var n in bins) total += n;
        if (total == 0) return 0;
        var rank = q * total;
        long seen = 0;
        for (var i = 0; i < bins.Length; i++)
        {
            var n = bins[i];
            if (n == 0 || seen + n < rank) { seen += n; continue; }
            var lower = i == 0 ? 0 : UpperMicros(i - 1);
            var upper = UpperMicros(i);
            var within = Math.Clamp((rank - seen) / n, 0, 1);
            return (lower + (upper - lower) * within) / 1e6;
        }
        return UpperMicros(bins.Length - 1) / 1e6;
    }

    private static long[] BuildBounds()
    {
        ReadOnlySpan<long> steps = [100, 150, 200, 250, 300, 400, 500, 600, 700, 800];
        var bounds = new long[60];
        long scale = 1;
        for (var decade = 0; decade < 6; decade++, scale *= 10)
        {
            for (var s = 0; s < steps.Length; s++) bounds[decade * steps.Length + s] = steps[s] * scale;
        }
        return bounds;
    }

    private static int[] BuildExported()
    {
        var last = new int[ExportedSeconds.Length];
        for (var i = 0; i < last.Length; i++)
        {
            var micros = (long)Math.Round(ExportedSeconds[i] * 1e6);
            last[i] = Array.IndexOf(Bounds, micros);
            if (last[i] < 0) throw new InvalidOperationException($"exported bound {ExportedSeconds[i]}s is not a bin bound");
        }
        return last;
    }
}
