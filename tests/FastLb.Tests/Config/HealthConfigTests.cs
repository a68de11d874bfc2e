using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>The health keys of a service and pool: parsed values, defaults, and errors with their position.</summary>
public sealed class HealthConfigTests
{
    private const string Listener = """
        listeners:
          - name: web
            bind: 127.0.0.1:8080
            routes: [ { service: web } ]

        """;

    [Fact]
    public void Parse_FullHealthSettings_BindsEveryKey()
    {
        var config = ConfigLoader.Parse(Listener + """
            services:
              web:
                active: blue
                health_check: { type: http, path: /healthz, host: web.internal, expect: "200,204,300-399", interval: 2s, timeout: 1s, healthy_threshold: 3, unhealthy_threshold: 4 }
                initial_state: healthy
                outlier: { consecutive_failures: 7, eject_on_5xx: true, base_ejection: 10s, max_ejection: 2m, max_ejected_percent: 30 }
                panic_threshold: 50
                slow_start: 30s
                min_healthy_percent: 75
                pools:
                  blue: [ 127.0.0.1:9001 ]
                  green:
                    health_check: { type: tcp, interval: 1s, timeout: 500ms }
                    backends: [ 127.0.0.1:9002 ]
            """, "ok.yaml");

        var web = config.Services[0];
        var check = web.HealthCheck!;
        Assert.Equal(HealthCheckKind.Http, check.Kind);
        Assert.Equal("/healthz", check.Path);
        Assert.Equal("web.internal", check.Host);
        Assert.Equal("200,204,300-399", check.Expect.Text);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 3, 4), (check.Interval, check.Timeout, check.HealthyThreshold, check.UnhealthyThreshold));
        Assert.Equal(InitialHealth.Healthy, web.InitialState);
        var outlier = web.Outlier!;
        Assert.Equal((7, true, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2), 30),
            (outlier.ConsecutiveFailures, outlier.EjectOn5xx, outlier.BaseEjection, outlier.MaxEjection, outlier.MaxEjectedPercent));
        Assert.Equal((50, TimeSpan.FromSeconds(30), 75), (web.PanicThreshold, web.SlowStart, web.MinHealthyPercent));
        Assert.Same(check, web.CheckFor(web.Pools[0]));
        var green = web.CheckFor(web.Pools[1])!;
        Assert.Equal((HealthCheckKind.Tcp, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500)), (green.Kind, green.Interval, green.Timeout));
        Assert.Equal("127.0.0.1:9002", web.Pools[1].Backends[0].Address.ToString());
    }

    [Fact]
    public void Parse_NoHealthKeys_BehavesAsBefore()
    {
        var web = ConfigLoader.Parse(Listener + "services:\n  web: { pools: { blue: [ 127.0.0.1:9001 ] } }\n", "ok.yaml").Services[0];

        Assert.Null(web.HealthCheck);
        Assert.Null(web.Outlier);
        Assert.Equal((0, TimeSpan.Zero, InitialHealth.Unknown), (web.PanicThreshold, web.SlowStart, web.InitialState));
    }

    [Fact]
    public void Parse_PathWithoutType_IsHttpWithDefaults()
    {
        var check = ConfigLoader.Parse(Listener + "services:\n  web:\n    health_check: { path: /up }\n    pools: { blue: [ 127.0.0.1:9001 ] }\n", "ok.yaml").Services[0].HealthCheck!;

        Assert.Equal(HealthCheckKind.Http, check.Kind);
        Assert.Equal("200-399", check.Expect.Text);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 2, 3), (check.Interval, check.Timeout, check.HealthyThreshold, check.UnhealthyThreshold));
    }

    [Fact]
    public void Parse_ExpectAsSequence_Accepted()
    {
        var check = ConfigLoader.Parse(Listener + "services:\n  web:\n    health_check: { path: /up, expect: [200, 300-399] }\n    pools: { blue: [ 127.0.0.1:9001 ] }\n", "ok.yaml").Services[0].HealthCheck!;

        Assert.Equal("200,300-399", check.Expect.Text);
    }

    [Theory]
    [InlineData("    health_check: { type: http, path: /up, timeout: 3s, interval: 2s }\n", 7, 53, "timeout of health_check of service 'web' (3s) must not exceed its interval (2s): checks of one backend never overlap")]
    [InlineData("    health_check: { type: http, path: /up, expect: 600 }\n", 7, 52, "expect of health_check of service 'web': '600' is not a status code (100-599) or a range like 200-399")]
    [InlineData("    health_check: { type: udp }\n", 7, 27, "type must be http or tcp, got 'udp'")]
    [InlineData("    health_check: { type: tcp, path: /up }\n", 7, 32, "path only applies to type: http, but health_check of service 'web' is type: tcp")]
    [InlineData("    initial_state: down\n", 7, 20, "initial_state must be unknown or healthy, got 'down'")]
    [InlineData("    panic_threshold: 150\n", 7, 22, "panic_threshold must be an integer from 0 to 100, got '150'")]
    [InlineData("    outlier: { base_ejection: 1m, max_ejection: 30s }\n", 7, 49, "max_ejection of outlier of service 'web' (30s) must be at least base_ejection (1m)")]
    [InlineData("    outlier: { consecutive: 3 }\n", 7, 16, "unknown key 'consecutive' in outlier of service 'web'; expected one of: consecutive_failures, eject_on_5xx, base_ejection, max_ejection, max_ejected_percent")]
    public void Parse_BadHealthSetting_ErrorAtItsPosition(string line, int row, int column, string message)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Listener + "services:\n  web:\n" + line + "    pools: { blue: [ 127.0.0.1:9001 ] }\n", "bad.yaml"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(message, error.Message);
        Assert.Equal((row, column), (error.Line, error.Column));
    }

    [Fact]
    public void Parse_PoolMappingWithoutBackends_SaysSo()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Listener + "services:\n  web:\n    pools:\n      blue: { health_check: { type: tcp } }\n", "bad.yaml"));

        Assert.Contains(ex.Errors, e => e.Message == "pool 'blue' in service 'web' needs backends, e.g. backends: [ 10.0.0.1:8080 ]" && e.Line == 8);
    }
}
