namespace FastLb.Core.Metrics;

/// <summary>
/// The last 60 seconds of one <see cref="TrafficCounters"/> in one-second buckets (scalars and the duration and
/// response-head histograms), and the last 5 minutes of requests and errors per second for sparklines.
/// </summary>
/// <remarks>
/// Filled by <see cref="Advance"/> once a second from the cumulative counters (the delta since the last call), so
/// the data plane never touches it. Callers serialize (see <see cref="TrafficStats"/>). A bucket is allocated the
/// first time its slot sees traffic; a backend without traffic keeps none.
/// </remarks>
internal sealed class TrafficWindow
{
    public const int Seconds = SecondBuckets.Seconds;
    public const int HistorySeconds = 300;

    /// <summary>Slots a bucket keeps: the first slots of the counters (scalars, duration and head bins; not the connect bins).</summary>
    public static readonly int BucketLength = TrafficField.ScalarCount + 2 * LatencyBins.Count;

    private readonly SecondBuckets _buckets = new(TrafficField.Count, BucketLength);
    private readonly int[] _historyRequests = new int[HistorySeconds];
    private readonly int[] _historyErrors = new int[HistorySeconds];
    private readonly long[] _historySecond = new long[HistorySeconds];

    /// <summary>Stores what <paramref name="totals"/> (the counters now) added since the last call as second <paramref name="second"/>.</summary>
    /// <remarks>The first call takes everything since the counters were created (they start at 0 with their backend).</remarks>
    public void Advance(ReadOnlySpan<long> totals, long second)
    {
        if (_buckets.Advance(totals, second) is not { } bucket) return;
        var h = (int)(second % HistorySeconds);
        _historyRequests[h] = (int)Math.Min(int.MaxValue, bucket[TrafficField.Requests]);
        _historyErrors[h] = (int)Math.Min(int.MaxValue, ErrorsOf(bucket));
        _historySecond[h] = second;
    }

    /// <summary>Adds the buckets of the <paramref name="seconds"/> seconds up to and including <paramref name="now"/> into <paramref name="sum"/>.</summary>
    public void AddTo(Span<long> sum, long now, int seconds) => _buckets.AddTo(sum, now, seconds);

    /// <summary>Adds requests and errors per second of the <paramref name="requests"/>.Length seconds ending at <paramref name="now"/> (oldest first).</summary>
    public void AddHistory(Span<long> requests, Span<long> errors, long now)
    {
        var n = requests.Length;
        for (var h = 0; h < HistorySeconds; h++)
        {
            var age = now - _historySecond[h];
            if (age < 0 || age >= n || (_historyRequests[h] == 0 && _historyErrors[h] == 0)) continue;
            requests[n - 1 - (int)age] += _historyRequests[h];
            errors[n - 1 - (int)age] += _historyErrors[h];
        }
    }

    /// <summary>Errors in a bucket or sum: 5xx responses, failed or timed-out connects, and responses the backend broke after a non-5xx head.</summary>
    public static long ErrorsOf(ReadOnlySpan<long> sum) =>
        sum[TrafficField.Status5xx] + sum[TrafficField.ConnectFailures] + sum[TrafficField.ConnectTimeouts] + sum[TrafficField.BrokenResponses];
}
