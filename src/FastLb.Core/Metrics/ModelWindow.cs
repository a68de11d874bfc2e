namespace FastLb.Core.Metrics;

/// <summary>
/// The last 60 seconds of one <see cref="ModelCounters"/> series in one-second buckets (every <see cref="ModelField"/>
/// slot), so status and the dashboard can show what a model does now next to its totals since start.
/// </summary>
/// <remarks>
/// Filled by <see cref="Advance"/> once a second from the cumulative counters (the delta since the last call), as
/// <see cref="TrafficWindow"/> is for backends: the data plane never touches it. Callers serialize (see
/// <see cref="TrafficStats"/>). A bucket is allocated the first time its slot sees traffic.
/// </remarks>
internal sealed class ModelWindow
{
    public const int Seconds = TrafficWindow.Seconds;

    private readonly long[] _previous = new long[ModelField.Count];
    private readonly long[]?[] _buckets = new long[]?[Seconds];
    private readonly long[] _bucketSecond = new long[Seconds];

    /// <summary>Stores what <paramref name="totals"/> (the counters now) added since the last call as second <paramref name="second"/>.</summary>
    /// <remarks>The first call takes everything since the series was created (its counters start at 0).</remarks>
    public void Advance(ReadOnlySpan<long> totals, long second)
    {
        if (totals.SequenceEqual(_previous)) return;
        var slot = (int)(second % Seconds);
        var bucket = _buckets[slot] ??= new long[ModelField.Count];
        for (var i = 0; i < bucket.Length; i++) bucket[i] = totals[i] - _previous[i];
        _bucketSecond[slot] = second;
        totals.CopyTo(_previous);
    }

    /// <summary>Adds the buckets of the <paramref name="seconds"/> seconds up to and including <paramref name="now"/> into <paramref name="sum"/>.</summary>
    public void AddTo(Span<long> sum, long now, int seconds)
    {
        for (var slot = 0; slot < Seconds; slot++)
        {
            var bucket = _buckets[slot];
            var age = now - _bucketSecond[slot];
            if (bucket is null || age < 0 || age >= seconds) continue;
            for (var i = 0; i < bucket.Length; i++) sum[i] += bucket[i];
        }
    }
}
