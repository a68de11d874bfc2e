using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>`fallback:` of a service: parsed values, defaults, and file:line:col errors on the entry at fault.</summary>
public sealed class FallbackConfigTests
{
    private static string Yaml(string fallback) =>
        "listeners:\n  - name: ai\n    bind: 127.0.0.1:8080\n    routes: [ { service: llm } ]\n" +
        "services:\n" +
        "  llm:\n" +
        "    active: v2\n" +
        "    pools: { v1: [ 127.0.0.1:9001 ], v2: [ 127.0.0.1:9002 ] }\n" +
        $"    fallback: {fallback}\n" +
        "  backup:\n" +
        "    pools: { main: [ 127.0.0.1:9003 ] }\n";

    private static FallbackConfig Parse(string fallback) =>
        ConfigLoader.Parse(Yaml(fallback), "ok.yaml").Services.Single(s => s.Name == "llm").Fallback!;

    [Fact]
    public void Parse_EveryKey_PoolsAndServicesTold()
    {
        var f = Parse("{ on: [429, 503, connect_failure, timeout], to: [v1, backup], max_attempts: 3, max_replay_body: 64KiB }");

        Assert.Equal(FallbackReasons.TooManyRequests | FallbackReasons.Unavailable | FallbackReasons.ConnectFailure | FallbackReasons.Timeout, f.On);
        Assert.Equal([new FallbackTargetConfig("v1", IsPool: true), new FallbackTargetConfig("backup", IsPool: false)], f.To);
        Assert.Equal((3, 64 * 1024), (f.MaxAttempts, f.MaxReplayBody));
    }

    [Fact]
    public void Parse_OnlyOnAndTo_DefaultsTwoAttemptsAndOneMiB()
    {
        var f = Parse("{ on: 429, to: v1 }");

        Assert.Equal(FallbackReasons.TooManyRequests, f.On);
        Assert.Equal((2, 1024 * 1024), (f.MaxAttempts, f.MaxReplayBody));
    }

    [Fact]
    public void Parse_NoFallback_Null()
    {
        var config = ConfigLoader.Parse(Yaml("{ on: [429], to: [v1] }").Replace("    fallback: { on: [429], to: [v1] }\n", "", StringComparison.Ordinal), "ok.yaml");

        Assert.Null(config.Services[0].Fallback);
    }

    [Theory]
    [InlineData("{ on: [429, 502], to: [v1] }", "ok.yaml:9:27: on of fallback of service 'llm': unknown outcome '502'; expected 429, 503, connect_failure or timeout")]
    [InlineData("{ on: [429, timout], to: [v1] }", "ok.yaml:9:27: on of fallback of service 'llm': unknown outcome 'timout'; expected 429, 503, connect_failure or timeout; did you mean 'timeout'?")]
    [InlineData("{ on: [429], to: [v1, backpu] }", "ok.yaml:9:37: to of fallback of service 'llm': 'backpu' is neither a pool of 'llm' (pools: v1, v2) nor a service (services: llm, backup); did you mean 'backup'?")]
    [InlineData("{ on: [429], to: [v1], max_attempts: 0 }", "ok.yaml:9:52: max_attempts must be an integer from 1 to 10, got '0'")]
    [InlineData("{ on: [429], to: [v1], max_replay_body: lots }", "ok.yaml:9:55: max_replay_body must be a size")]
    [InlineData("{ on: [429], to: [] }", "ok.yaml:9:32: to of fallback of service 'llm' must be a non-empty list, got")]
    [InlineData("{ to: [v1] }", "ok.yaml:9:5: fallback of service 'llm' needs on:")]
    [InlineData("{ on: [429], to: [v1], retries: 2 }", "ok.yaml:9:38: unknown key 'retries' in fallback of service 'llm'")]
    public void Parse_BadFallback_ErrorAtTheEntry(string fallback, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(fallback));

        Assert.Contains(ex.Errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }
}
