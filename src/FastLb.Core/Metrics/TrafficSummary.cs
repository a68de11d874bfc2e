namespace FastLb.Core.Metrics;

/// <summary>Traffic of one backend, pool or service over a recent window: rates, error rate and latency quantiles.</summary>
/// <param name="sum">Window buckets summed (<see cref="TrafficWindow.BucketLength"/> slots).</param>
/// <param name="seconds">The seconds the window covers (shorter than asked for while FastLb just started).</param>
internal sealed class TrafficSummary(long[] sum, int seconds)
{
    public int Seconds { get; } = Math.Max(1, seconds);

    public long Requests => sum[TrafficField.Requests];
    public double RequestsPerSecond => (double)Requests / Seconds;
    public long Status(int statusClass) => sum[TrafficField.Status1xx + statusClass - 1];
    public long ConnectFailures => sum[TrafficField.ConnectFailures];
    public long ConnectTimeouts => sum[TrafficField.ConnectTimeouts];
    public long Timeouts => sum[TrafficField.Timeouts];
    public long Resets => sum[TrafficField.Resets];
    public long BrokenResponses => sum[TrafficField.BrokenResponses];
    public long Retries => sum[TrafficField.Retries];
    public long BytesIn => sum[TrafficField.BytesIn];
    public long BytesOut => sum[TrafficField.BytesOut];
    public long ConnectionsOpened => sum[TrafficField.ConnectionsOpened];

    /// <summary>5xx responses, connects that failed or timed out, and responses broken after a non-5xx head.</summary>
    public long Errors => TrafficWindow.ErrorsOf(sum);

    /// <summary>Errors over attempts (requests plus failed connects), 0..1; 0 without traffic.</summary>
    public double ErrorRate
    {
        get
        {
            var attempts = Requests + ConnectFailures + ConnectTimeouts;
            return attempts == 0 ? 0 : (double)Errors / attempts;
        }
    }

    /// <summary>Request duration quantile in seconds (0 without traffic).</summary>
    public double Duration(double q) => LatencyBins.Quantile(sum.AsSpan(TrafficField.DurationBins, LatencyBins.Count), q);

    /// <summary>Time-to-response-head quantile in seconds (0 without responses).</summary>
    public double Head(double q) => LatencyBins.Quantile(sum.AsSpan(TrafficField.HeadBins, LatencyBins.Count), q);
}
