using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using Xunit;

namespace FastLb.Tests.Routing;

public sealed class ModelRouteMatchTests
{
    private static readonly ServiceSnapshot Service = new(
        new ServiceConfig { Name = "llm", Pools = [], Shares = new Dictionary<string, int>() }, []);

    private static readonly FakeRequest Post = new("POST", "h", "/v1/chat/completions");

    private static CompiledRoute Route(RouteMatchConfig match) => new(new RouteConfig { Match = match, Service = "llm" }, Service, null);

    private static bool Matches(RouteMatchConfig match, string? model) =>
        Route(match).Matches(Post, model is null ? default : Encoding.UTF8.GetBytes(model));

    [Theory]
    [InlineData("gpt-4o", true)]
    [InlineData("gpt-4o-mini", false)]
    [InlineData("GPT-4o", false)]
    [InlineData("gpt-4", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Matches_ModelName_ExactAndCaseSensitive(string? model, bool expected)
    {
        Assert.Equal(expected, Matches(new RouteMatchConfig { Models = ["gpt-4o"] }, model));
    }

    [Theory]
    [InlineData("llama-3.1-70b", true)]
    [InlineData("llama-3", true)]
    [InlineData("mistral-7b", true)]
    [InlineData("exact", true)]
    [InlineData("llama-2", false)]
    [InlineData("模型-1", true)]
    [InlineData(null, false)]
    public void Matches_AnyNameOrPrefix(string? model, bool expected)
    {
        var match = new RouteMatchConfig { Models = ["exact"], ModelPrefixes = ["llama-3", "mistral-", "模型"] };
        Assert.Equal(expected, Matches(match, model));
    }

    [Fact]
    public void Matches_ModelAndPath_BothRequired()
    {
        var route = Route(new RouteMatchConfig { Models = ["m"], PathPrefix = "/v1/" });
        Assert.True(route.Matches(Post, "m"u8));
        Assert.False(route.Matches(new FakeRequest("POST", "h", "/v2/x"), "m"u8));
        Assert.False(route.Matches(Post));
    }

    [Fact]
    public void Match_ListenerWithModelRoutes_FallsThroughToRouteWithoutModel()
    {
        var listener = new ListenerConfig { Name = "ai", Bind = new EndPointConfig("127.0.0.1", 0) };
        var a = new CompiledRoute(new RouteConfig { Match = new RouteMatchConfig { Models = ["a"] }, Service = "llm" }, Service, null, 1);
        var b = new CompiledRoute(new RouteConfig { Match = new RouteMatchConfig { ModelPrefixes = ["b"] }, Service = "llm" }, Service, null, 2);
        var rest = new CompiledRoute(new RouteConfig { Service = "llm" }, Service, null, 3);
        var routes = new ListenerRoutes(listener, [a, b, rest]);

        Assert.True(routes.UsesModel);
        Assert.Same(a, routes.Match(Post, "a"u8));
        Assert.Same(b, routes.Match(Post, "b-2"u8));
        Assert.Same(rest, routes.Match(Post, "c"u8));
        Assert.Same(rest, routes.Match(Post));
        Assert.False(new ListenerRoutes(listener, [rest]).UsesModel);
    }

    [Theory]
    [InlineData("exact", "exact")]
    [InlineData("llama-3.1-70b", "llama-3*")]
    [InlineData("模型-1", "模型*")]
    public void ModelLabel_MatchedNameOrPrefix_FromTheConfig(string model, string label)
    {
        var route = Route(new RouteMatchConfig { Models = ["other", "exact"], ModelPrefixes = ["llama-3", "模型"] });
        Assert.Equal(label, route.ModelLabel(Encoding.UTF8.GetBytes(model)));
    }

    [Fact]
    public void ModelLabel_RouteWithoutModel_FoldsToOtherOrNone()
    {
        var rest = new CompiledRoute(new RouteConfig { Service = "llm" }, Service, null, 3);
        Assert.Equal("_other", rest.ModelLabel("any-client-name"u8));
        Assert.Equal("_none", rest.ModelLabel(default));
    }
}
