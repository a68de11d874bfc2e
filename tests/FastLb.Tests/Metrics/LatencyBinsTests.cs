using FastLb.Core.Metrics;
using Xunit;

namespace FastLb.Tests.Metrics;

public class LatencyBinsTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(100, 0)]
    [InlineData(101, 1)]
    [InlineData(500, 6)]
    [InlineData(501, 7)]
    [InlineData(100_000_000, 60)]
    public void Of_Micros_FallsInTheBinWhoseUpperBoundCoversIt(long micros, int bin) => Assert.Equal(bin, LatencyBins.Of(micros));

    [Fact]
    public void ExportedBounds_AreExactBinBounds()
    {
        for (var i = 0; i < LatencyBins.ExportedSeconds.Length; i++)
        {
            Assert.Equal((long)Math.Round(LatencyBins.ExportedSeconds[i] * 1e6), LatencyBins.UpperMicros(LatencyBins.ExportedLastBin[i]));
        }
    }

    [Fact]
    public void Quantile_UniformSpread_InterpolatesWithinTheBin()
    {
        var bins = new long[LatencyBins.Count];
        bins[LatencyBins.Of(1_000)] = 50;   // 50 requests at ~1 ms
        bins[LatencyBins.Of(100_000)] = 50; // 50 at ~100 ms

        Assert.InRange(LatencyBins.Quantile(bins, 0.5), 0.0008, 0.001);
        Assert.InRange(LatencyBins.Quantile(bins, 0.99), 0.08, 0.1);
        Assert.Equal(0, LatencyBins.Quantile(new long[LatencyBins.Count], 0.99));
    }
}
