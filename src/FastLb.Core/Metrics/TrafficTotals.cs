namespace FastLb.Core.Metrics;

/// <summary>
/// Cumulative counters of a pool (its backends summed) at one instant: what a rollout subtracts to measure a pool
/// over exactly its own window, independent of the one-second buckets.
/// </summary>
internal sealed class TrafficTotals
{
    public static readonly TrafficTotals Zero = new(0, 0, 0, new long[LatencyBins.Count]);

    public TrafficTotals(long requests, long failedConnects, long errors, long[] durationBins)
    {
        Requests = requests;
        FailedConnects = failedConnects;
        Errors = errors;
        DurationBins = durationBins;
    }

    /// <summary>Requests that ended (with or without a response).</summary>
    public long Requests { get; }

    /// <summary>Connects refused or timed out (no request reached the backend).</summary>
    public long FailedConnects { get; }

    /// <summary>5xx responses, failed connects and responses broken after their head: the error count <c>ctl stats</c> shows.</summary>
    public long Errors { get; }

    /// <summary>Request duration histogram (<see cref="LatencyBins"/>).</summary>
    public long[] DurationBins { get; }

    /// <summary>Errors over attempts (requests plus failed connects), 0..1; 0 without traffic.</summary>
    public double ErrorRate
    {
        get
        {
            var attempts = Requests + FailedConnects;
            return attempts == 0 ? 0 : (double)Errors / attempts;
        }
    }

    /// <summary>The 0.99 quantile of request duration; zero without requests.</summary>
    public TimeSpan P99 => TimeSpan.FromSeconds(LatencyBins.Quantile(DurationBins, 0.99));

    /// <summary>From the counters of one or more backends, summed (<see cref="TrafficCounters.CopyTotals"/> layout).</summary>
    public static TrafficTotals From(ReadOnlySpan<long> totals) => new(
        totals[TrafficField.Requests],
        totals[TrafficField.ConnectFailures] + totals[TrafficField.ConnectTimeouts],
        TrafficWindow.ErrorsOf(totals),
        totals.Slice(TrafficField.DurationBins, LatencyBins.Count).ToArray());

    /// <summary>What happened between <paramref name="earlier"/> and this; never negative (a backend that left the registry took its counts with it).</summary>
    public TrafficTotals Since(TrafficTotals earlier)
    {
        var bins = new long[DurationBins.Length];
        for (var i = 0; i < bins.Length; i++) bins[i] = Math.Max(0, DurationBins[i] - earlier.DurationBins[i]);
        return new TrafficTotals(
            Math.Max(0, Requests - earlier.Requests),
            Math.Max(0, FailedConnects - earlier.FailedConnects),
            Math.Max(0, Errors - earlier.Errors),
            bins);
    }

    /// <summary>For tests and hand-made samples: <paramref name="requests"/> requests of which <paramref name="errors"/> failed, all taking <paramref name="duration"/>.</summary>
    public static TrafficTotals Of(long requests, long errors, TimeSpan duration)
    {
        var bins = new long[LatencyBins.Count];
        bins[LatencyBins.Of((long)duration.TotalMicroseconds)] = requests;
        return new TrafficTotals(requests, 0, errors, bins);
    }

    /// <summary>Adds two sets of totals (a sample made of parts).</summary>
    public TrafficTotals Plus(TrafficTotals other)
    {
        var bins = new long[DurationBins.Length];
        for (var i = 0; i < bins.Length; i++) bins[i] = DurationBins[i] + other.DurationBins[i];
        return new TrafficTotals(Requests + other.Requests, FailedConnects + other.FailedConnects, Errors + other.Errors, bins);
    }
}
