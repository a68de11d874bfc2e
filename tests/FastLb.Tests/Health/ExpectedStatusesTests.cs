using FastLb.Core.Health;
using Xunit;

namespace FastLb.Tests.Health;

public class ExpectedStatusesTests
{
    [Theory]
    [InlineData("200", "200", 200, 201)]
    [InlineData("200-399", "200-399", 399, 400)]
    [InlineData("200,204,300-399", "200,204,300-399", 204, 203)]
    [InlineData(" 204 , 200 ", "204,200", 200, 500)]
    public void TryParse_ValidText_AcceptsListedCodesOnly(string text, string normalized, int accepted, int rejected)
    {
        var parsed = ExpectedStatuses.TryParse([text], out var error);

        Assert.Null(error);
        Assert.Equal(normalized, parsed!.Text);
        Assert.True(parsed.Contains(accepted));
        Assert.False(parsed.Contains(rejected));
    }

    [Fact]
    public void TryParse_SequenceItems_JoinsThem()
    {
        var parsed = ExpectedStatuses.TryParse(["200", "300-399"], out _);

        Assert.Equal("200,300-399", parsed!.Text);
        Assert.True(parsed.Contains(350));
    }

    [Theory]
    [InlineData("99", "'99' is not a status code")]
    [InlineData("600", "'600' is not a status code")]
    [InlineData("abc", "'abc' is not a status code")]
    [InlineData("399-200", "range '399-200' ends before it starts")]
    [InlineData(",", "at least one status code")]
    public void TryParse_InvalidText_SaysWhy(string text, string expected)
    {
        Assert.Null(ExpectedStatuses.TryParse([text], out var error));
        Assert.Contains(expected, error);
    }
}
