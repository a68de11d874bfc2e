using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>The `rollout:` block of a service: parsed values, defaults, and errors with their position.</summary>
public sealed class RolloutConfigTests
{
    private const string Head = "listeners:\n  - name: web\n    bind: 127.0.0.1:8080\n    routes: [ { service: web } ]\nservices:\n  web:\n    active: blue\n";
    private const string Pools = "    pools: { blue: [ 127.0.0.1:9001 ], green: [ 127.0.0.1:9002 ] }\n";

    private static RolloutConfig? Parse(string block) => ConfigLoader.Parse(Head + block + Pools, "ok.yaml").Services[0].Rollout;

    [Fact]
    public void Parse_EveryKey_Bound()
    {
        var r = Parse("    rollout: { steps: [10, 50, 100], interval: 1m, max_error_rate: 0.5%, max_error_rate_delta: 0.2%, max_p99: 400ms, max_p99_ratio: 1.5, min_requests: 500, manual_gates: [50], on_inconclusive: pause, on_unhealthy: ignore }\n")!;

        Assert.Equal([10, 50, 100], r.Steps);
        Assert.Equal(TimeSpan.FromMinutes(1), r.Interval);
        Assert.Equal(0.005, r.MaxErrorRate!.Value, 9);
        Assert.Equal(0.002, r.MaxErrorRateDelta!.Value, 9);
        Assert.Equal(TimeSpan.FromMilliseconds(400), r.MaxP99);
        Assert.Equal(1.5, r.MaxP99Ratio);
        Assert.Equal(500, r.MinRequests);
        Assert.Equal([50], r.ManualGates);
        Assert.Equal(InconclusiveAction.Pause, r.OnInconclusive);
        Assert.False(r.RollbackOnUnhealthy);
    }

    [Fact]
    public void Parse_EmptyBlock_Defaults()
    {
        var r = Parse("    rollout: {}\n")!;

        Assert.Equal([5, 25, 50, 100], r.Steps);
        Assert.Equal(TimeSpan.FromSeconds(30), r.Interval);
        Assert.Equal(0.01, r.MaxErrorRate);
        Assert.Null(r.MaxP99);
        Assert.Equal(100, r.MinRequests);
        Assert.Equal(InconclusiveAction.Fail, r.OnInconclusive);
        Assert.True(r.RollbackOnUnhealthy);
        Assert.True(r.SameAs(new RolloutConfig()));
    }

    [Fact]
    public void Parse_NoBlock_Null() => Assert.Null(Parse(""));

    [Theory]
    [InlineData("    rollout: { steps: [50, 10] }\n", "8:23: rollout of service 'web': steps must rise, but 10 follows 50")]
    [InlineData("    rollout: { steps: [0, 100] }\n", "8:23: rollout of service 'web': each step is a percent from 1 to 100, got 0")]
    [InlineData("    rollout: { manual_gates: [30] }\n", "8:30: rollout of service 'web': manual gate 30 is not one of the steps (5,25,50,100)")]
    [InlineData("    rollout: { max_error_rate: lots }\n", "8:32: max_error_rate must be a percent from 0% to 100%, e.g. 1% or 0.5%, got 'lots'")]
    [InlineData("    rollout: { max_p99_ratio: 0 }\n", "8:31: max_p99_ratio must be a ratio above 0, e.g. 1.5, got '0'")]
    [InlineData("    rollout: { on_inconclusive: wait }\n", "8:33: on_inconclusive must be fail or pause, got 'wait'; did you mean 'fail'?")]
    [InlineData("    rollout: { intervall: 1s }\n", "8:16: unknown key 'intervall' in rollout of service 'web'; did you mean 'interval'?")]
    public void Parse_BadValue_ErrorAtItsPosition(string block, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(block));

        Assert.Contains(ex.Errors, e => e.ToString() == "ok.yaml:" + expected);
    }

    [Fact]
    public void Parse_StickySplit_CookieDefaultsAndClientIp()
    {
        var cookie = ConfigLoader.Parse(Head + "    sticky_split: { ttl: 10m }\n" + Pools, "ok.yaml").Services[0].StickySplit!;
        var ip = ConfigLoader.Parse(Head + "    sticky_split: { by: client_ip }\n" + Pools, "ok.yaml").Services[0].StickySplit!;

        Assert.Equal((StickyBy.Cookie, "fastlb_pool", TimeSpan.FromMinutes(10)), (cookie.By, cookie.Cookie, cookie.Ttl));
        Assert.Equal(StickyBy.ClientIp, ip.By);
    }

    [Theory]
    [InlineData("    balance: hash\n    sticky_split: {}\n", "9:5: sticky_split does not apply with balance: hash, which keeps each key on one pool already; remove sticky_split")]
    [InlineData("    sticky_split: { by: client_ip, cookie: x }\n", "8:25: sticky_split of service 'web': by: client_ip sets no cookie, so cookie and ttl do not apply")]
    [InlineData("    sticky_split: { cookie: \"a b\" }\n", "8:29: cookie of sticky_split of service 'web' must be a cookie name (letters, digits, - _ .), got 'a b'")]
    public void Parse_BadStickySplit_ErrorAtItsPosition(string block, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Head + block + Pools, "ok.yaml"));

        Assert.Contains(ex.Errors, e => e.ToString() == "ok.yaml:" + expected);
    }
}
