using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>`mirror:` of a route: parsed values, defaults, and errors on the route's line.</summary>
public sealed class MirrorConfigTests
{
    private const string Services = "services:\n  web:\n    active: blue\n    pools: { blue: [ 127.0.0.1:9001 ], green: [ 127.0.0.1:9002 ] }\n";

    private static MirrorConfig? Parse(string mirror) =>
        ConfigLoader.Parse($"listeners:\n  - name: web\n    bind: 127.0.0.1:8080\n    routes: [ {{ service: web, mirror: {mirror} }} ]\n" + Services, "ok.yaml")
            .Listeners[0].Routes[0].Mirror;

    [Fact]
    public void Parse_EveryKey_Bound()
    {
        var m = Parse("{ service: web, pool: green, percent: 10, max_body: 1MiB, max_in_flight: 20 }")!;

        Assert.Equal(("web", "green", 10.0, 1024 * 1024, 20), (m.Service, m.Pool, m.Percent, m.MaxBody, m.MaxInFlight));
    }

    [Fact]
    public void Parse_OnlyPool_DefaultsToTheRoutesServiceEveryRequest()
    {
        var m = Parse("{ pool: green, percent: 0.5% }")!;

        Assert.Equal(("web", "green", 0.5, MirrorConfig.DefaultMaxBody, MirrorConfig.DefaultMaxInFlight), (m.Service, m.Pool, m.Percent, m.MaxBody, m.MaxInFlight));
        Assert.Equal(100, Parse("{ pool: green }")!.Percent);
    }

    [Theory]
    [InlineData("{ percent: 10 }", "mirror of route 1 of listener 'web' needs a pool to copy requests to, e.g. pool: green")]
    [InlineData("{ pool: gren }", "unknown pool 'gren' in service 'web' (mirror of route 1 of listener 'web'); pools are: blue, green; did you mean 'green'?")]
    [InlineData("{ pool: green, percent: 150 }", "percent must be a percent from 0% to 100%, e.g. 1% or 0.5%, got '150'")]
    [InlineData("{ pool: green, max_in_flight: 0 }", "max_in_flight")]
    [InlineData("{ pool: green, max_body: huge }", "max_body must be a size")]
    [InlineData("{ pool: green, service: api }", "unknown service 'api' in mirror of route 1 of listener 'web'")]
    [InlineData("{ pool: green, pecent: 10 }", "unknown key 'pecent' in mirror of route 1 of listener 'web'; did you mean 'percent'?")]
    public void Parse_BadMirror_ErrorOnTheRoutesLine(string mirror, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(mirror));

        Assert.Contains(ex.Errors, e => e.ToString().StartsWith("ok.yaml:4:", StringComparison.Ordinal) && e.ToString().Contains(expected, StringComparison.Ordinal));
    }
}
