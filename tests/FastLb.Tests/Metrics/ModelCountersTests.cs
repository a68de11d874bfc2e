using System.Diagnostics;
using FastLb.Core.Metrics;
using Xunit;

namespace FastLb.Tests.Metrics;

public sealed class ModelCountersTests
{
    private static long Ticks(double ms) => (long)(ms / 1000 * Stopwatch.Frequency);

    [Fact]
    public void Record_RequestsTokens429AndBothHistograms()
    {
        var counters = new ModelTrafficRegistry().Get("llm", "v2", "gpt-4o");
        counters.Record(200, Ticks(120), Ticks(2500), 10, 40);
        counters.Record(200, Ticks(180), -1, 5, 0);
        counters.Record(429, Ticks(1), -1, -1, -1);
        var t = new long[ModelField.Count];
        counters.CopyTotals(t);
        Assert.Equal((3, 1, 15, 40), (t[ModelField.Requests], t[ModelField.Status429], t[ModelField.PromptTokens], t[ModelField.CompletionTokens]));
        var firstByte = t.AsSpan(ModelField.FirstByteBins, LatencyBins.Count);
        var streams = t.AsSpan(ModelField.StreamBins, LatencyBins.Count);
        long firstByteCount = 0, streamCount = 0;
        foreach (var n in firstByte) firstByteCount += n;
        foreach (var n in streams) streamCount += n;
        Assert.Equal((3, 1), (firstByteCount, streamCount));
        Assert.InRange(LatencyBins.Quantile(firstByte, 0.5), 0.1, 0.15);
        Assert.InRange(LatencyBins.Quantile(streams, 0.5), 2.0, 3.0);
        Assert.InRange(t[ModelField.FirstByteSumMicros], 300_000, 302_000);
    }

    [Fact]
    public void Get_SameSeries_SameCounters_ListedInOrder()
    {
        var registry = new ModelTrafficRegistry();
        Assert.Same(registry.Get("llm", "v1", "a"), registry.Get("llm", "v1", "a"));
        registry.Get("llm", "v2", "a");
        registry.Get("embed", "v1", "b");
        Assert.Equal(["embed/v1/b", "llm/v1/a", "llm/v2/a"], registry.All().Select(c => $"{c.Service}/{c.Pool}/{c.Model}"));
    }
}
