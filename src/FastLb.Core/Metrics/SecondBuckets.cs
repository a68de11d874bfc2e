namespace FastLb.Core.Metrics;

/// <summary>
/// The last <see cref="Seconds"/> seconds of one series of cumulative counters, one bucket per second: each
/// <see cref="Advance"/> stores what the counters added since the call before. Backends (<see cref="TrafficWindow"/>)
/// and model series (<see cref="ModelCounters"/>) keep their recent traffic in one each.
/// </summary>
/// <remarks>
/// Filled once a second from the cumulative counters, so the data plane never touches it; callers serialize (see
/// <see cref="TrafficStats"/>). A bucket is allocated the first time its slot sees traffic: a series without traffic
/// keeps none.
/// </remarks>
internal sealed class SecondBuckets
{
    public const int Seconds = 60;

    private readonly int _bucketLength;
    private readonly long[] _previous;
    private readonly long[]?[] _buckets = new long[]?[Seconds];
    private readonly long[] _bucketSecond = new long[Seconds];

    /// <param name="counters">How many counters the series has (each <see cref="Advance"/> passes them all).</param>
    /// <param name="bucketLength">How many of them, from the first, a bucket keeps.</param>
    public SecondBuckets(int counters, int bucketLength)
    {
        _previous = new long[counters];
        _bucketLength = bucketLength;
    }

    /// <summary>
    /// Stores what <paramref name="totals"/> (the counters now) added since the last call as second
    /// <paramref name="second"/>: the bucket written, or null when the kept counters did not move.
    /// </summary>
    /// <remarks>The first call takes everything since the counters were created (they start at 0).</remarks>
    public long[]? Advance(ReadOnlySpan<long> totals, long second)
    {
        long[]? bucket = null;
        if (!totals[.._bucketLength].SequenceEqual(_previous.AsSpan(0, _bucketLength)))
        {
            var slot = (int)(second % Seconds);
            bucket = _buckets[slot] ??= new long[_bucketLength];
            for (var i = 0; i < bucket.Length; i++) bucket[i] = totals[i] - _previous[i];
            _bucketSecond[slot] = second;
        }
        totals.CopyTo(_previous);
        return bucket;
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
