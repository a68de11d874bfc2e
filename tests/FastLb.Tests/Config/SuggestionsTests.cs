using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

public sealed class SuggestionsTests
{
    [Theory]
    [InlineData("bnd", "bind")]
    [InlineData("gren", "green")]
    [InlineData("servce", "service")]
    [InlineData("path-prefix", "path_prefix")]
    [InlineData("Bind", "bind")]
    [InlineData("xyz", null)]
    public void Closest_NearMiss_Suggested(string input, string? expected)
    {
        Assert.Equal(expected, Suggestions.Closest(input, ["bind", "green", "service", "path_prefix", "path"]));
    }
}
