using System.Text;
using FastLb.Core.Health;
using Xunit;

namespace FastLb.Tests.Health;

/// <summary>Retry-After values: delay-seconds and the three HTTP-date forms, bounded to five minutes.</summary>
public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 22, 0, 0, TimeSpan.Zero);

    private static TimeSpan? Parse(string value) =>
        RetryAfter.TryParse(Encoding.ASCII.GetBytes(value), Now, out var delay) ? delay : null;

    [Theory]
    [InlineData("1", 1)]
    [InlineData(" 120 ", 120)]
    [InlineData("300", 300)]
    [InlineData("301", 300)]
    [InlineData("99999999999999999999999", 300)]
    [InlineData("Wed, 02 Dec 2026 22:00:30 GMT", 30)]
    [InlineData("Wednesday, 02-Dec-26 22:00:45 GMT", 45)]
    [InlineData("Wed Dec  2 22:01:00 2026", 60)]
    [InlineData("Thu, 03 Dec 2026 22:00:00 GMT", 300)]
    public void TryParse_SecondsOrDate_DelayBounded(string value, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), Parse(value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("soon")]
    [InlineData("Wed, 02 Dec 2026 21:59:00 GMT")]
    public void TryParse_MalformedZeroOrPast_NoDelay(string value)
    {
        Assert.Null(Parse(value));
    }
}
