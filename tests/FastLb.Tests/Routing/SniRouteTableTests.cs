using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using Xunit;

namespace FastLb.Tests.Routing;

public class SniRouteTableTests
{
    private static readonly SniRouteTable Table = new(
    [
        new SniRouteConfig("api.example.com", "api"),
        new SniRouteConfig("*.example.com", "web"),
        new SniRouteConfig(null, "default"),
    ]);

    [Theory]
    [InlineData("api.example.com", "api")]        // exact beats the wildcard
    [InlineData("www.example.com", "web")]
    [InlineData("a.b.example.com", "default")]    // a wildcard covers one label only
    [InlineData("example.com", "default")]
    [InlineData("other.org", "default")]
    [InlineData("", "default")]                   // no SNI
    public void Match_ExactThenWildcardThenDefault(string name, string expected)
    {
        Assert.Equal(expected, Table.Match(Encoding.ASCII.GetBytes(name)));
    }

    [Fact]
    public void Match_NoDefault_Null()
    {
        var table = new SniRouteTable([new SniRouteConfig("api.example.com", "api")]);

        Assert.Null(table.Match("www.example.com"u8));
        Assert.Null(table.Match(default));
    }
}
