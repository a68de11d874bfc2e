namespace FastLb.Core.Metrics;

/// <summary>Slots of a <see cref="ModelCounters"/> shard: scalar counters, then two latency histograms.</summary>
internal static class ModelField
{
    /// <summary>Requests for the model that reached a backend of the pool and ended.</summary>
    public const int Requests = 0;

    /// <summary>Of those, answered 429 Too Many Requests.</summary>
    public const int Status429 = 1;

    /// <summary>Prompt and completion tokens the responses reported in <c>usage</c>.</summary>
    public const int PromptTokens = 2;
    public const int CompletionTokens = 3;

    /// <summary>Sums of the histograms' observations, in microseconds.</summary>
    public const int FirstByteSumMicros = 4;
    public const int StreamSumMicros = 5;

    public const int ScalarCount = 6;

    /// <summary>Time from the request head to the first response body byte sent to the client (to the head when there is no body).</summary>
    public static readonly int FirstByteBins = ScalarCount;

    /// <summary>Duration of requests whose response was an event stream, from the request head to the stream's end.</summary>
    public static readonly int StreamBins = FirstByteBins + LatencyBins.Count;

    public static readonly int Count = StreamBins + LatencyBins.Count;
}
