using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

public sealed class ConfigLoaderTests
{
    [Fact]
    public void Parse_DesignExample_BuildsExpectedModel()
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.DesignExampleFixed, "fastlb.yaml", "/etc/fastlb");

        Assert.Equal("fastlb.yaml", config.SourcePath);
        Assert.Equal(2, config.Workers);
        Assert.Equal("/etc/fastlb/fastlb.sock", config.Admin.ControlSocket);
        Assert.Equal(new EndPointConfig("127.0.0.1", 9901), config.Admin.Listen);
        Assert.Equal(TimeSpan.FromSeconds(2), config.Defaults.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), config.Defaults.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Defaults.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Defaults.RequestHeadTimeout);

        Assert.Equal(["web", "pg"], config.Listeners.Select(l => l.Name));
        var web = config.Listeners[0];
        Assert.Equal(new EndPointConfig("0.0.0.0", 8080), web.Bind);
        Assert.Equal(ListenerProtocol.Http, web.Protocol);
        Assert.Null(web.Service);
        Assert.Equal(3, web.Routes.Count);
        Assert.Equal("api.example.com", web.Routes[0].Match.Host);
        Assert.Equal("/v1/", web.Routes[0].Match.PathPrefix);
        Assert.Equal("api", web.Routes[0].Service);
        Assert.Null(web.Routes[0].Pool);
        Assert.Equal(new NameValueMatch("x-fastlb-pool", "green"), web.Routes[1].Match.Header);
        Assert.Equal("web", web.Routes[1].Service);
        Assert.Equal("green", web.Routes[1].Pool);
        Assert.True(web.Routes[2].Match.IsCatchAll);
        Assert.Equal("web", web.Routes[2].Service);

        var pg = config.Listeners[1];
        Assert.Equal(ListenerProtocol.Tcp, pg.Protocol);
        Assert.Equal("postgres", pg.Service);
        Assert.Empty(pg.Routes);

        Assert.Equal(["web", "api", "postgres"], config.Services.Select(s => s.Name));
        var webService = config.FindService("web")!;
        Assert.Equal(BalanceKind.RoundRobin, webService.Balance);
        Assert.Equal(["blue", "green"], webService.Pools.Select(p => p.Name));
        Assert.Equal(100, webService.Shares["blue"]);
        Assert.Equal(0, webService.Shares["green"]);
        Assert.Equal(
            [new BackendConfig(new EndPointConfig("10.0.0.1", 8080), 3), new BackendConfig(new EndPointConfig("10.0.0.2", 8080), 1)],
            webService.FindPool("blue")!.Backends);
        Assert.Equal([new BackendConfig(new EndPointConfig("10.0.1.1", 8080), 1)], webService.FindPool("green")!.Backends);
        Assert.Equal(TimeSpan.FromSeconds(30), webService.DrainTimeout);
        Assert.False(webService.RewriteHost);

        // api overrides two timeouts and inherits the rest; one pool needs no active:.
        var api = config.FindService("api")!;
        Assert.Equal(TimeSpan.FromMilliseconds(500), api.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), api.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), api.DrainTimeout);
        Assert.Equal(config.Defaults.ResponseHeadTimeout, api.ResponseHeadTimeout);
        Assert.Equal(config.Defaults.UpstreamIdleTimeout, api.UpstreamIdleTimeout);
        Assert.Equal(new Dictionary<string, int> { ["v1"] = 100 }, api.Shares);
        Assert.Equal(2, api.FindPool("v1")!.Backends.Count);

        var postgres = config.FindService("postgres")!;
        Assert.Equal(BalanceKind.LeastRequest, postgres.Balance);
        Assert.Equal(new Dictionary<string, int> { ["primary"] = 100, ["replica"] = 0 }, postgres.Shares);
        Assert.Equal(0, postgres.FindPool("replica")!.Backends[0].Weight);
    }

    [Fact]
    public void Parse_DesignExampleVerbatim_ReportsHashOnAndMissingServices()
    {
        // The example routes to services it never defines and sets hash_on with round_robin.
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(ConfigTestFiles.DesignExample, "fastlb.yaml"));

        Assert.Collection(
            ex.Errors,
            e => Assert.Equal((15, 18, "unknown service 'api' in route 1 of listener 'web'; services are: web"), (e.Line, e.Column, e.Message)),
            e => Assert.Equal((23, 14, "unknown service 'postgres' in listener 'pg'; services are: web"), (e.Line, e.Column, e.Message)),
            e => Assert.Equal((27, 5), (e.Line, e.Column)));
        Assert.StartsWith("hash_on only applies with balance: hash", ex.Errors[2].Message);
    }

    [Fact]
    public void Parse_PinWorkersTrue_PinsLoopsToCpus()
    {
        var config = ConfigLoader.Parse("workers: 3\npin_workers: true\n" + ConfigTestFiles.Minimal, "pin.yaml");

        Assert.Equal(3, config.Workers);
        Assert.True(config.PinWorkers);
        Assert.Contains("workers: 3, pinned to CPUs\n", ConfigSummary.Describe(config).ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("io_uring")]
    [InlineData("auto")]
    public void Parse_Io_TakesEachTransport(string text)
    {
        var config = ConfigLoader.Parse($"io: {text}\n" + ConfigTestFiles.Minimal, "io.yaml");

        Assert.Equal(text, IoModeNames.Name(config.Io));
    }

    [Fact]
    public void Parse_MinimalFile_UsesDefaults()
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.Minimal, "min.yaml");

        Assert.Equal(Environment.ProcessorCount, config.Workers);
        Assert.False(config.PinWorkers); // the scheduler places the loops unless the file asks for pinning
        Assert.Equal("./fastlb.sock", config.Admin.ControlSocket);
        Assert.Null(config.Admin.Listen);
        var web = config.Services[0];
        Assert.Equal(HashOn.ClientIp, web.HashOn);
        Assert.Equal(new DefaultsConfig().ConnectTimeout, web.ConnectTimeout);
        Assert.Equal(new DefaultsConfig().UpstreamIdleTimeout, web.UpstreamIdleTimeout);
    }

    [Fact]
    public void Parse_DefaultsSection_InheritedByServices()
    {
        var yaml = ConfigTestFiles.Minimal + """

            defaults:
              connect_timeout: 250ms
              idle_timeout: 2m
              drain_timeout: 0s
              request_head_timeout: 5s
              response_head_timeout: 7s
              keepalive_timeout: 90s
              upstream_idle_timeout: 15s
            """;

        var config = ConfigLoader.Parse(yaml, "t.yaml");

        var d = config.Defaults;
        Assert.Equal(TimeSpan.FromMilliseconds(250), d.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), d.IdleTimeout);
        Assert.Equal(TimeSpan.Zero, d.DrainTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), d.RequestHeadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), d.ResponseHeadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), d.KeepAliveTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), d.UpstreamIdleTimeout);
        var s = config.Services[0];
        Assert.Equal((d.ConnectTimeout, d.IdleTimeout, d.DrainTimeout, d.ResponseHeadTimeout, d.UpstreamIdleTimeout),
            (s.ConnectTimeout, s.IdleTimeout, s.DrainTimeout, s.ResponseHeadTimeout, s.UpstreamIdleTimeout));
    }

    [Theory]
    [InlineData("", "Splice")]
    [InlineData("\ndefaults: { tcp_relay: splice }", "Splice")]
    [InlineData("\ndefaults: { tcp_relay: pipes }", "Pipes")]
    public void Parse_TcpRelay_SetsServerWideMode(string defaults, string expected)
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.Minimal + defaults, "t.yaml");

        Assert.Equal(expected, config.Defaults.TcpRelay.ToString());
    }

    [Theory]
    [InlineData("", "Text")]
    [InlineData("\nlog_format: text", "Text")]
    [InlineData("\nlog_format: json", "Json")]
    public void Parse_LogFormat_TextByDefault(string line, string expected)
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.Minimal + line, "t.yaml");

        Assert.Equal(expected, config.LogFormat.ToString());
    }

    [Fact]
    public void Parse_NoConnectionLimits_DerivedLimitAndQueue()
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.Minimal, "t.yaml");

        Assert.Null(config.MaxConnections);
        Assert.Equal(OnLimit.Queue, config.OnLimit);
        Assert.Null(config.Listeners[0].MaxConnections);
        Assert.Equal(OnLimit.Queue, config.Listeners[0].OnLimit);
    }

    [Fact]
    public void Parse_ConnectionLimits_ListenerInheritsOnLimitUnlessItSetsItsOwn()
    {
        var yaml = """
            max_connections: 20000
            on_limit: close
            listeners:
              - { name: web, bind: 127.0.0.1:8080, routes: [ { service: web } ], max_connections: 500 }
              - { name: api, bind: 127.0.0.1:8081, routes: [ { service: web } ], on_limit: queue }
            services:
              web:
                pools:
                  main: [ 127.0.0.1:9001 ]
            """;
        var config = ConfigLoader.Parse(yaml, "t.yaml");

        Assert.Equal(20000, config.MaxConnections);
        Assert.Equal(OnLimit.Close, config.OnLimit);
        Assert.Equal(500, config.Listeners[0].MaxConnections);
        Assert.Equal(OnLimit.Close, config.Listeners[0].OnLimit);
        Assert.Null(config.Listeners[1].MaxConnections);
        Assert.Equal(OnLimit.Queue, config.Listeners[1].OnLimit);
    }

    [Fact]
    public void Parse_BackendShortAndLongForms_SameModel()
    {
        var yaml = """
            listeners: [ { name: db, bind: "[::1]:5432", protocol: tcp, service: db } ]
            services:
              db:
                pools:
                  main:
                    - 10.0.0.1:5432
                    - { address: 10.0.0.2:5432 }
                    - address: "[fd00::2]:5432"
                      weight: 1000000
                    - { address: localhost:5433, weight: 0 }
            """;

        var config = ConfigLoader.Parse(yaml, "t.yaml");

        Assert.Equal(new EndPointConfig("::1", 5432), config.Listeners[0].Bind);
        Assert.Equal(
            [
                new BackendConfig(new EndPointConfig("10.0.0.1", 5432), 1),
                new BackendConfig(new EndPointConfig("10.0.0.2", 5432), 1),
                new BackendConfig(new EndPointConfig("fd00::2", 5432), 1_000_000),
                new BackendConfig(new EndPointConfig("localhost", 5433), 0),
            ],
            config.Services[0].Pools[0].Backends);
    }

    [Fact]
    public void Parse_Split_MissingPoolsGetZero()
    {
        var yaml = ConfigTestFiles.Minimal.Replace("active: blue", "split: { green: 100 }")
            .Replace("green: [ 127.0.0.1:9002 ]", "green: [ 127.0.0.1:9002 ]\n      canary: [ 127.0.0.1:9003 ]");

        var config = ConfigLoader.Parse(yaml, "t.yaml");

        Assert.Equal(new Dictionary<string, int> { ["blue"] = 0, ["green"] = 100, ["canary"] = 0 }, config.Services[0].Shares);
    }

    [Fact]
    public void Parse_RouteMatches_NormalizedAndStored()
    {
        var yaml = ConfigTestFiles.Minimal.Replace("      - service: web", """
                  - match:
                      host: "*.Example.com"
                      path: /health
                      method: get
                      cookie: { name: Session }
                    service: web
                    pool: blue
                  - match: { header: { name: X-Canary } }
                    service: web
                  - match: {}
                    service: web
            """);

        var routes = ConfigLoader.Parse(yaml, "t.yaml").Listeners[0].Routes;

        var m = routes[0].Match;
        Assert.Equal(("*.example.com", "/health", "GET", null), (m.Host, m.Path, m.Method, m.PathPrefix));
        Assert.Equal(new NameValueMatch("Session", null), m.Cookie);
        Assert.Null(m.Header);
        Assert.Equal(new NameValueMatch("x-canary", null), routes[1].Match.Header);
        Assert.True(routes[2].Match.IsCatchAll);
    }

    [Fact]
    public void Parse_HashBalance_ReadsHashOn()
    {
        var yaml = ConfigTestFiles.Minimal.Replace("active: blue", "active: blue\n    balance: hash\n    hash_on: cookie:sid\n    rewrite_host: true");

        var web = ConfigLoader.Parse(yaml, "t.yaml").Services[0];

        Assert.Equal(BalanceKind.Hash, web.Balance);
        Assert.Equal(new HashOn(HashSource.Cookie, "sid"), web.HashOn);
        Assert.True(web.RewriteHost);
    }

    [Fact]
    public void Parse_AnchorsAndAliases_Resolved()
    {
        var yaml = ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: &b [ 127.0.0.1:9001 ]")
            + "\n  other:\n    pools: { main: *b }\n";

        var config = ConfigLoader.Parse(yaml, "t.yaml");

        Assert.Equal(config.Services[0].Pools[0].Backends, config.Services[1].Pools[0].Backends);
    }

    [Fact]
    public void Parse_RelativeControlSocket_ResolvedAgainstBaseDirectory()
    {
        var yaml = ConfigTestFiles.Minimal + "\nadmin: { control_socket: run/lb.sock }\n";

        Assert.Equal("/srv/lb/run/lb.sock", ConfigLoader.Parse(yaml, "t.yaml", "/srv/lb").Admin.ControlSocket);
        Assert.Equal("/srv/run/lb.sock", ConfigLoader.Parse(yaml.Replace("run/lb.sock", "../run/lb.sock"), "t.yaml", "/srv/lb").Admin.ControlSocket);
        Assert.Equal("/tmp/abs.sock", ConfigLoader.Parse(yaml.Replace("run/lb.sock", "/tmp/abs.sock"), "t.yaml", "/srv/lb").Admin.ControlSocket);
        Assert.Equal("run/lb.sock", ConfigLoader.Parse(yaml, "t.yaml").Admin.ControlSocket);
    }

    [Fact]
    public void LoadFile_RelativePaths_ResolvedAgainstFileFolder()
    {
        var dir = Directory.CreateTempSubdirectory("fastlb-config-");
        try
        {
            var path = Path.Combine(dir.FullName, "fastlb.yaml");
            File.WriteAllText(path, ConfigTestFiles.Minimal);

            var config = ConfigLoader.LoadFile(path);

            Assert.Equal(path, config.SourcePath);
            Assert.Equal(Path.Combine(dir.FullName, "fastlb.sock"), config.Admin.ControlSocket);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void LoadFile_MissingFile_OneErrorAtLineOne()
    {
        var path = Path.Combine(Path.GetTempPath(), "fastlb-no-such-dir", "nope.yaml");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(path));

        var error = Assert.Single(ex.Errors);
        Assert.Equal((path, 1, 1), (error.File, error.Line, error.Column));
        Assert.Equal($"config file not found: {path}", error.Message);
        Assert.Equal($"{path}:1:1: config file not found: {path}", error.ToString());
    }

    [Fact]
    public void Describe_DesignExample_ListsListenersServicesAndBackends()
    {
        var config = ConfigLoader.Parse(ConfigTestFiles.DesignExampleFixed, "fastlb.yaml");

        var text = ConfigSummary.Describe(config);

        Assert.Contains("web  0.0.0.0:8080  http, 3 route(s):", text);
        Assert.Contains("1. host api.example.com, path prefix /v1/ -> api", text);
        Assert.Contains("2. header x-fastlb-pool=green -> web (pool green only)", text);
        Assert.Contains("3. any request -> web", text);
        Assert.Contains("pg  0.0.0.0:5432  tcp -> postgres", text);
        Assert.Contains("web  round_robin  traffic: blue 100%, green 0%", text);
        Assert.Contains("pool blue (share 100): 10.0.0.1:8080 (weight 3), 10.0.0.2:8080", text);
        Assert.Contains("postgres  least_request  traffic: primary 100%, replica 0%", text);
        Assert.Contains("connect 500ms, idle 1m, drain 30s", text);
    }
}
