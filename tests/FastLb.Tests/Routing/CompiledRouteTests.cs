using FastLb.Core.Config;
using FastLb.Core.Routing;
using Xunit;

namespace FastLb.Tests.Routing;

public class CompiledRouteTests
{
    private static readonly ServiceSnapshot Service = new(
        new ServiceConfig { Name = "web", Pools = [], Shares = new Dictionary<string, int>() }, []);

    private static bool Matches(RouteMatchConfig match, FakeRequest request) =>
        new CompiledRoute(new RouteConfig { Match = match, Service = "web" }, Service, null).Matches(request);

    [Theory]
    [InlineData("api.example.com", "api.example.com", true)]
    [InlineData("api.example.com", "API.Example.COM", true)]
    [InlineData("api.example.com", "www.example.com", false)]
    [InlineData("*.example.com", "a.example.com", true)]
    [InlineData("*.example.com", "a.b.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", "badexample.com", false)]
    public void Matches_Host_ExactCaseInsensitiveAndWildcard(string pattern, string host, bool expected)
    {
        Assert.Equal(expected, Matches(new RouteMatchConfig { Host = pattern }, new FakeRequest("GET", host, "/")));
    }

    [Theory]
    [InlineData("/v1/", "/v1/users", true)]
    [InlineData("/v1/", "/v2/users", false)]
    [InlineData("/v1/", "/v1", false)]
    public void Matches_PathPrefix(string prefix, string path, bool expected)
    {
        Assert.Equal(expected, Matches(new RouteMatchConfig { PathPrefix = prefix }, new FakeRequest("GET", "h", path)));
    }

    [Fact]
    public void Matches_ExactPathAndMethod_BothRequired()
    {
        var match = new RouteMatchConfig { Path = "/health", Method = "GET" };

        Assert.True(Matches(match, new FakeRequest("GET", "h", "/health")));
        Assert.False(Matches(match, new FakeRequest("POST", "h", "/health")));
        Assert.False(Matches(match, new FakeRequest("GET", "h", "/health/x")));
    }

    [Fact]
    public void Matches_HeaderValueOrPresence()
    {
        var value = new RouteMatchConfig { Header = new NameValueMatch("x-fastlb-pool", "green") };
        var present = new RouteMatchConfig { Header = new NameValueMatch("x-canary", null) };

        Assert.True(Matches(value, new FakeRequest("GET", "h", "/", new() { ["X-FastLb-Pool"] = "green" })));
        Assert.False(Matches(value, new FakeRequest("GET", "h", "/", new() { ["x-fastlb-pool"] = "blue" })));
        Assert.True(Matches(present, new FakeRequest("GET", "h", "/", new() { ["x-canary"] = "" })));
        Assert.False(Matches(present, new FakeRequest("GET", "h", "/")));
    }

    [Fact]
    public void Matches_CookieValue()
    {
        var match = new RouteMatchConfig { Cookie = new NameValueMatch("release", "green") };

        Assert.True(Matches(match, new FakeRequest("GET", "h", "/", cookies: new() { ["release"] = "green" })));
        Assert.False(Matches(match, new FakeRequest("GET", "h", "/", cookies: new() { ["release"] = "blue" })));
    }

    [Fact]
    public void Match_FirstMatchingRouteWins_EmptyMatchIsCatchAll()
    {
        var listener = new ListenerConfig { Name = "web", Bind = new EndPointConfig("127.0.0.1", 0) };
        var routes = new ListenerRoutes(listener,
        [
            new CompiledRoute(new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/api/" }, Service = "api" }, Service, null),
            new CompiledRoute(new RouteConfig { Service = "web" }, Service, null),
        ]);

        Assert.Equal("api", routes.Match(new FakeRequest("GET", "h", "/api/x"))!.Config.Service);
        Assert.Equal("web", routes.Match(new FakeRequest("GET", "h", "/other"))!.Config.Service);
    }
}
