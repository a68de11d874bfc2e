using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>`token_limits:` of an http listener: values, defaults, file:line:col errors.</summary>
public sealed class TokenLimitsConfigTests
{
    private static string Yaml(string limits, string protocol = "http") =>
        $"listeners:\n  - name: ai\n    bind: 127.0.0.1:8080\n    protocol: {protocol}\n    {(protocol == "tcp" ? "service: llm" : "routes: [ { service: llm } ]")}\n    token_limits: {limits}\n" +
        "services:\n  llm:\n    pools: { v1: [ 127.0.0.1:9001 ] }\n";

    private static TokenLimitsConfig? Parse(string limits) => ConfigLoader.Parse(Yaml(limits), "ok.yaml").Listeners[0].TokenLimits;

    [Fact]
    public void Parse_EveryKey_Bound()
    {
        var t = Parse("{ tokens_per_minute: 100000, burst: 20000, per_key: { tokens_per_minute: 6000, burst: 1000 }, max_keys: 500 }")!;

        Assert.Equal(new TokenRate(100_000, 20_000), t.Listener);
        Assert.Equal(new TokenRate(6000, 1000), t.PerKey);
        Assert.Equal(500, t.MaxKeys);
    }

    [Fact]
    public void Parse_PerKeyOnly_BurstIsAMinutesTokens()
    {
        var t = Parse("{ per_key: { tokens_per_minute: 6000 } }")!;

        Assert.Null(t.Listener);
        Assert.Equal(new TokenRate(6000, 6000), t.PerKey);
        Assert.Equal(TokenLimitsConfig.DefaultMaxKeys, t.MaxKeys);
    }

    [Theory]
    [InlineData("{ burst: 10 }", "ok.yaml:6:5: token_limits of listener 'ai' needs tokens_per_minute")]
    [InlineData("{ max_keys: 10 }", "ok.yaml:6:5: token_limits of listener 'ai' sets no limit")]
    [InlineData("{ per_key: { burst: 5 } }", "ok.yaml:6:21: per_key of token_limits of listener 'ai' needs tokens_per_minute")]
    [InlineData("{ tokens_per_minute: 0 }", "ok.yaml:6:40: tokens_per_minute must be an integer from 1 to 2000000000, got '0'")]
    [InlineData("{ per_key: { tokens_per_minute: 10, bust: 5 } }", "ok.yaml:6:55: unknown key 'bust' in per_key of token_limits of listener 'ai'; did you mean 'burst'?")]
    public void Parse_BadTokenLimits_ErrorAtTheEntry(string limits, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(limits));

        Assert.Contains(ex.Errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_TcpListener_Refused()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml("{ tokens_per_minute: 10 }", "tcp"), "ok.yaml"));

        Assert.Contains(ex.Errors, e => e.ToString().Contains("'token_limits' is only for http listeners", StringComparison.Ordinal));
    }
}
