namespace FastLb.Core.Metrics;

/// <summary>Slots of a <see cref="TrafficCounters"/> shard: scalar counters, then three latency histograms.</summary>
internal static class TrafficField
{
    /// <summary>Requests (HTTP) or connections (TCP) that ended.</summary>
    public const int Requests = 0;

    /// <summary>Responses by status class: <c>Status1xx + (status / 100 - 1)</c>.</summary>
    public const int Status1xx = 1;
    public const int Status2xx = 2;
    public const int Status3xx = 3;
    public const int Status4xx = 4;
    public const int Status5xx = 5;

    /// <summary>Connects refused or unreachable.</summary>
    public const int ConnectFailures = 6;

    /// <summary>Connects that did not finish within connect_timeout.</summary>
    public const int ConnectTimeouts = 7;

    /// <summary>Exchanges that timed out after connecting (response head or idle timeout).</summary>
    public const int Timeouts = 8;

    /// <summary>Exchanges the backend reset or cut (reset, invalid or truncated response).</summary>
    public const int Resets = 9;

    /// <summary>Requests sent again (another backend after a failed connect, or a fresh connection after a stale one).</summary>
    public const int Retries = 10;

    /// <summary>Bytes from the client forwarded to the backend.</summary>
    public const int BytesIn = 11;

    /// <summary>Bytes sent to the client.</summary>
    public const int BytesOut = 12;

    /// <summary>Upstream connections opened.</summary>
    public const int ConnectionsOpened = 13;

    /// <summary>Connections cut at a drain deadline.</summary>
    public const int DrainCuts = 14;

    /// <summary>Sums of the histograms' observations, in microseconds.</summary>
    public const int DurationSumMicros = 15;
    public const int HeadSumMicros = 16;
    public const int ConnectSumMicros = 17;

    /// <summary>
    /// Exchanges the backend broke after a response head that was not 5xx (reset, truncated or timed out mid-body):
    /// errors the status classes do not show, since the client got a 2xx head and then a cut.
    /// </summary>
    public const int BrokenResponses = 18;

    /// <summary>Prompt and completion tokens the responses reported in <c>usage</c> (model listeners).</summary>
    public const int PromptTokens = 19;
    public const int CompletionTokens = 20;

    /// <summary>Scalar slots; the window keeps these and the first two histograms.</summary>
    public const int ScalarCount = 21;

    /// <summary>Request duration (HTTP: head received to response end; TCP: connection life).</summary>
    public static readonly int DurationBins = ScalarCount;

    /// <summary>Time from the request sent to the response head received (HTTP only).</summary>
    public static readonly int HeadBins = DurationBins + LatencyBins.Count;

    /// <summary>Upstream connect duration.</summary>
    public static readonly int ConnectBins = HeadBins + LatencyBins.Count;

    public static readonly int Count = ConnectBins + LatencyBins.Count;
}
