using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

public sealed class ConfigDurationTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("2s", 2_000)]
    [InlineData("1m", 60_000)]
    [InlineData("0s", 0)]
    [InlineData("90s", 90_000)]
    [InlineData("1h", 3_600_000)]
    public void TryParse_Valid_ReturnsMilliseconds(string text, long ms)
    {
        Assert.True(ConfigDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("1d")]
    [InlineData("-2s")]
    [InlineData("1.5s")]
    [InlineData("2 s")]
    [InlineData("s")]
    [InlineData("2S")]
    [InlineData("99999999999999999999s")]
    public void TryParse_Invalid_ReturnsFalse(string text)
    {
        Assert.False(ConfigDuration.TryParse(text, out _));
    }

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(2_000, "2s")]
    [InlineData(90_000, "90s")]
    [InlineData(120_000, "2m")]
    [InlineData(0, "0ms")]
    public void Format_LargestExactUnit(long ms, string expected)
    {
        Assert.Equal(expected, ConfigDuration.Format(TimeSpan.FromMilliseconds(ms)));
    }
}
