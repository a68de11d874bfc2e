using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>Bad files: each error must name the file, the exact position and what was expected.</summary>
public sealed class ConfigLoaderErrorTests
{
    private static IReadOnlyList<ConfigError> Errors(string yaml, string? baseDirectory = null)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml", baseDirectory));
        Assert.All(ex.Errors, e => Assert.Equal("bad.yaml", e.File));
        return ex.Errors;
    }

    private static void AssertSingle(string yaml, int line, int column, string message)
    {
        var errors = Errors(yaml);
        var error = Assert.Single(errors);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_MisspelledKey_DidYouMeanWithoutCascade()
    {
        AssertSingle("""
            listeners:
              - name: web
                bnd: 127.0.0.1:8080
                routes: [ { service: web } ]
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 3, 5, "unknown key 'bnd' in listener 'web'; did you mean 'bind'?");
    }

    [Fact]
    public void Parse_UnknownKeyFarFromAny_ListsValidKeys()
    {
        AssertSingle("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                routes: [ { service: web } ]
            services:
              web:
                colour: blue
                pools: { blue: [ 127.0.0.1:9001 ] }
            """, 7, 5, "unknown key 'colour' in service 'web'; expected one of: balance, hash_on, active, split, pools, " +
                       "rewrite_host, drain_timeout, connect_timeout, idle_timeout, response_head_timeout, upstream_idle_timeout, stream_idle_timeout, " +
                       "health_check, initial_state, outlier, panic_threshold, slow_start, min_healthy_percent, send_proxy, rollout, sticky_split, fallback, tls");
    }

    [Fact]
    public void Parse_PinWorkersNotABoolean_PointsAtValue()
    {
        AssertSingle("pin_workers: sometimes\n" + ConfigTestFiles.Minimal, 1, 14, "pin_workers must be true or false, got 'sometimes'");
    }

    [Fact]
    public void Parse_IoMisspelt_PointsAtValueAndSuggests()
    {
        AssertSingle("io: io_urng\n" + ConfigTestFiles.Minimal, 1, 5, "io must be auto, epoll or io_uring, got 'io_urng'; did you mean 'io_uring'?");
    }

    [Fact]
    public void Parse_UnknownActivePool_ListsPools()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "active: gren"),
            9, 13, "unknown pool 'gren' in service 'web'; pools are: blue, green; did you mean 'green'?");
    }

    [Fact]
    public void Parse_UnknownSplitPool_PointsAtPoolKey()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "split: { blue: 90, canary: 10 }"),
            9, 24, "unknown pool 'canary' in service 'web'; pools are: blue, green");
    }

    [Fact]
    public void Parse_UnknownRoutePool_NamesServiceAndRoute()
    {
        AssertSingle("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                routes:
                  - match: { header: { name: x-pool, value: green } }
                    service: web
                    pool: gree
                  - service: web
            services:
              web: { active: blue, pools: { blue: [ 127.0.0.1:9001 ], green: [ 127.0.0.1:9002 ] } }
            """, 7, 15, "unknown pool 'gree' in service 'web' (route 1 of listener 'web'); pools are: blue, green; did you mean 'green'?");
    }

    [Fact]
    public void Parse_UnknownService_ListsServices()
    {
        AssertSingle("""
            listeners:
              - name: pg
                bind: 0.0.0.0:5432
                protocol: tcp
                service: postgress
            services:
              postgres: { pools: { main: [ 10.0.0.1:5432 ] } }
              web: { pools: { main: [ 10.0.0.2:80 ] } }
            """, 5, 14, "unknown service 'postgress' in listener 'pg'; services are: postgres, web; did you mean 'postgres'?");
    }

    [Fact]
    public void Parse_BadTcpRelay_NamesChoices()
    {
        AssertSingle(ConfigTestFiles.Minimal + "\ndefaults:\n  tcp_relay: splise",
            14, 14, "tcp_relay must be splice or pipes, got 'splise'; did you mean 'splice'?");
    }

    [Fact]
    public void Parse_MaxConnectionsZero_ReportsRange() =>
        AssertSingle(ConfigTestFiles.Minimal + "\nmax_connections: 0",
            13, 18, "max_connections must be an integer from 1 to 100000000, got '0'");

    [Fact]
    public void Parse_OnLimitMisspelled_Suggests() =>
        AssertSingle(ConfigTestFiles.Minimal + "\non_limit: queu",
            13, 11, "on_limit must be queue or close, got 'queu'; did you mean 'queue'?");

    [Fact]
    public void Parse_BadLogFormat_NamesChoices()
    {
        AssertSingle(ConfigTestFiles.Minimal + "\nlog_format: jsno",
            13, 13, "log_format must be text or json, got 'jsno'; did you mean 'json'?");
    }

    [Fact]
    public void Parse_EmptyTcpRelay_NamesChoices()
    {
        AssertSingle(ConfigTestFiles.Minimal + "\ndefaults:\n  tcp_relay:",
            14, 3, "tcp_relay must be splice or pipes, got nothing");
    }

    [Fact]
    public void Parse_BadProtocol_NamesChoices()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("protocol: http", "protocol: htp"),
            4, 15, "protocol must be http or tcp, got 'htp'; did you mean 'http'?");
    }

    [Fact]
    public void Parse_BadDuration_GivesExamples()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "active: blue\n    drain_timeout: 5x"),
            10, 20, "drain_timeout: '5x' is not a duration; expected e.g. 250ms, 2s, 1m");
    }

    [Fact]
    public void Parse_DurationWithoutUnit_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal + "\ndefaults:\n  connect_timeout: 2\n",
            14, 20, "connect_timeout: '2' is not a duration; expected e.g. 250ms, 2s, 1m");
    }

    [Fact]
    public void Parse_BackendHostName_ExplainsIpOnly()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: [ db.internal:9001 ]"),
            11, 15, "backend address 'db.internal:9001' must be an IP address or localhost: FastLb connects to IPs and does not resolve host names");
    }

    [Fact]
    public void Parse_BackendWithoutPort_ExplainsFormat()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: [ { address: 10.0.0.1 } ]"),
            11, 26, "backend address: '10.0.0.1' is not an address; expected host:port, e.g. 127.0.0.1:8080");
    }

    [Fact]
    public void Parse_ActiveAndSplit_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "active: blue\n    split: { blue: 50, green: 50 }"),
            10, 5, "service 'web' sets both active and split; use active: POOL for one pool or split: { POOL: W, ... } for several");
    }

    [Fact]
    public void Parse_DuplicateListenerName_PointsAtSecond()
    {
        AssertSingle("""
            listeners:
              - { name: web, bind: 127.0.0.1:8080, routes: [ { service: web } ] }
              - { name: web, bind: 127.0.0.1:8081, routes: [ { service: web } ] }
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 3, 13, "duplicate listener name 'web'; first defined at line 2");
    }

    [Fact]
    public void Parse_SameBindTwice_Rejected()
    {
        AssertSingle("""
            listeners:
              - { name: a, bind: 0.0.0.0:8080, routes: [ { service: web } ] }
              - { name: b, bind: 127.0.0.1:8080, routes: [ { service: web } ] }
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 3, 22, "bind 127.0.0.1:8080 of listener 'b' clashes with listener 'a' (0.0.0.0:8080); every listener needs its own address and port");
    }

    [Fact]
    public void Parse_TrustedProxiesNotACidr_PointsAtTheEntry()
    {
        AssertSingle("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                trusted_proxies: [10.0.0.0/8, 10.0.0.1/8]
                routes: [ { service: web } ]
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 4, 35, "trusted_proxies of listener 'web': the value '10.0.0.1/8' is not an address or CIDR (prefix bits only, e.g. 10.0.0.0/8, 2001:db8::/32, 192.168.1.7)");
    }

    [Fact]
    public void Parse_RoutesOnTcpListener_Rejected()
    {
        AssertSingle("""
            listeners:
              - name: pg
                bind: 0.0.0.0:5432
                protocol: tcp
                service: db
                routes: [ { service: db } ]
            services:
              db: { pools: { main: [ 10.0.0.1:5432 ] } }
            """, 6, 5, "'routes' are only for http listeners; tcp listener 'pg' forwards every connection to its one 'service'");
    }

    [Fact]
    public void Parse_TcpListenerWithoutService_Rejected()
    {
        AssertSingle("""
            listeners:
              - name: pg
                bind: 0.0.0.0:5432
                protocol: tcp
            services:
              db: { pools: { main: [ 10.0.0.1:5432 ] } }
            """, 2, 5, "tcp listener 'pg' needs a service: the one service it forwards connections to (or sni_routes to pick one by TLS server name)");
    }

    [Fact]
    public void Parse_ServiceOnHttpListener_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("      - service: web", "      - service: web\n    service: web"),
            7, 5, "'service' is only for tcp listeners; http listener 'web' sends requests through routes, e.g. routes: [ { service: NAME } ]");
    }

    [Fact]
    public void Parse_YamlSyntaxError_ReportsPosition()
    {
        var error = Assert.Single(Errors("""
            listeners:
              - name: web
                bind: [ 127.0.0.1:8080
            services: {}
            """));

        // Points at the unclosed '['.
        Assert.Equal((3, 11), (error.Line, error.Column));
        Assert.Equal("YAML syntax error: malformed YAML after this point; check for an unclosed '[', '{' or quote", error.Message);
    }

    [Fact]
    public void Parse_TabIndentation_ReportsYamlError()
    {
        var error = Assert.Single(Errors("listeners:\n  - name: web\n  \tbind: 127.0.0.1:80\n"));

        Assert.Equal((3, 3), (error.Line, error.Column));
        Assert.Equal("YAML syntax error: tabs are not allowed in indentation; indent with spaces", error.Message);
    }

    [Fact]
    public void Parse_ListenersAsMapping_NamesExpectedKind()
    {
        AssertSingle("""
            listeners:
              web: { bind: 127.0.0.1:8080 }
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 2, 3, "listeners must be a list (- name: web ...), got a mapping");
    }

    [Fact]
    public void Parse_PoolAsScalar_NamesExpectedKind()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("green: [ 127.0.0.1:9002 ]", "green: 127.0.0.1:9002"),
            12, 14, "pool 'green' in service 'web' must be a list of backends (- 10.0.0.1:8080), got the value '127.0.0.1:9002'");
    }

    [Fact]
    public void Parse_NegativeWeight_GivesRange()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: [ { address: 127.0.0.1:9001, weight: -1 } ]"),
            11, 50, "weight must be an integer from 0 to 1000000, got '-1'");
    }

    [Fact]
    public void Parse_NegativeSplitShare_GivesRange()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "split: { blue: 100, green: -10 }"),
            9, 32, "share of pool 'green' must be an integer from 0 to 100, got '-10'");
    }

    [Fact]
    public void Parse_AllZeroSplit_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "split: { blue: 0, green: 0 }"),
            9, 5, "split of service 'web': shares add up to 0, not 100 (percent of new traffic, e.g. { blue: 90, green: 10 })");
    }

    [Fact]
    public void Parse_SeveralPoolsNoAssignment_NamesPools()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("    active: blue\n", ""),
            8, 3, "service 'web' has pools blue, green; say which takes traffic with active: POOL or split: { POOL: W, ... }");
    }

    [Fact]
    public void Parse_DuplicateKey_PointsAtSecond()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("protocol: http", "protocol: http\n    bind: 127.0.0.1:9090"),
            5, 5, "duplicate key 'bind' in listener 'web'; first set at line 3");
    }

    [Fact]
    public void Parse_DuplicateBackend_PointsAtSecond()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: [ 127.0.0.1:9001, { address: 127.0.0.1:9001, weight: 2 } ]"),
            11, 42, "duplicate backend 127.0.0.1:9001 in pool 'blue' in service 'web'; first listed at line 11");
    }

    [Fact]
    public void Parse_EmptyPool_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("green: [ 127.0.0.1:9002 ]", "green: []"),
            12, 7, "pool 'green' in service 'web' has no backends; list at least one, e.g. - 10.0.0.1:8080");
    }

    [Fact]
    public void Parse_HashOnWithoutHashBalance_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "active: blue\n    hash_on: header:x-user"),
            10, 5, "hash_on only applies with balance: hash, but service 'web' balances with round_robin; remove hash_on or set balance: hash");
    }

    [Fact]
    public void Parse_PathPrefixWithoutSlash_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("      - service: web", "      - { match: { path_prefix: api }, service: web }\n      - service: web"),
            6, 33, "path_prefix must start with '/', got 'api'");
    }

    [Fact]
    public void Parse_CatchAllBeforeOtherRoutes_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("      - service: web", "      - service: web\n      - { match: { method: POST }, service: web }"),
            7, 9, "route 2 of listener 'web' can never match: route 1 before it matches every request; put catch-all routes last");
    }

    [Fact]
    public void Parse_ActivePoolAllWeightsZero_Rejected()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("blue: [ 127.0.0.1:9001 ]", "blue: [ { address: 127.0.0.1:9001, weight: 0 } ]"),
            11, 7, "pool 'blue' of service 'web' has share 100 but every backend in it has weight 0, so its traffic would fail");
    }

    [Fact]
    public void Parse_EmptyListenerItem_OneError()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("services:", "  -\nservices:"),
            7, 4, "listener 2 is empty; expected a mapping with keys name, bind, protocol, routes, service, trusted_proxies, accept_proxy, sni_routes, tls, handshake_timeout, access_log, max_connections, on_limit, model_required, max_body_peek, model_header, model_peek_timeout, models, token_limits");
    }

    [Fact]
    public void Parse_NoServicesDefined_SaysSo()
    {
        AssertSingle("""
            listeners:
              - { name: pg, bind: 127.0.0.1:5432, protocol: tcp, service: db }
            """, 2, 63, "unknown service 'db' in listener 'pg'; no services are defined");
    }

    [Fact]
    public void Parse_NoListeners_Rejected()
    {
        AssertSingle("""
            services:
              web: { pools: { blue: [ 127.0.0.1:9001 ] } }
            """, 1, 1, "no listeners; define at least one under 'listeners:' with a name, a bind address and a protocol");
    }

    [Fact]
    public void Parse_EmptyFile_Rejected()
    {
        AssertSingle("# nothing here\n", 1, 1, "the file is empty; expected at least 'listeners:' and 'services:'");
    }

    [Fact]
    public void Parse_ThreeErrors_ReportsAllInFileOrder()
    {
        var errors = Errors("""
            workers: 0
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                protocol: http
                routes:
                  - service: wbe
            services:
              web:
                active: blue
                pools:
                  blue: [ 127.0.0.1:9001 ]
                  green: [ { address: 127.0.0.1:9002, weight: many } ]
            """);

        Assert.Equal(
            [
                "bad.yaml:1:10: workers must be an integer from 1 to 1024, got '0'",
                "bad.yaml:7:18: unknown service 'wbe' in route 1 of listener 'web'; services are: web; did you mean 'web'?",
                "bad.yaml:13:51: weight must be an integer from 0 to 1000000, got 'many'",
            ],
            errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Parse_AccessLog_BadFormatSampleAndMissingFolder_ReportedWithPositions()
    {
        var errors = Errors("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                access_log: { path: /no/such/folder/access.log, format: jsn, sample: 2 }
                routes:
                  - service: web
            services:
              web:
                pools:
                  blue: [ 127.0.0.1:9001 ]
            """, baseDirectory: "/tmp");

        Assert.Equal(
            [
                "bad.yaml:4:25: access_log path '/no/such/folder/access.log': folder '/no/such/folder' does not exist",
                "bad.yaml:4:61: format must be text or json, got 'jsn'; did you mean 'json'?",
                "bad.yaml:4:74: sample must be a number from 0 to 1 (the share of requests logged, e.g. 0.1), got '2'",
            ],
            errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Parse_SplitNotAddingUpTo100_Refused()
    {
        AssertSingle(ConfigTestFiles.Minimal.Replace("active: blue", "split: { blue: 90 }"),
            9, 5, "split of service 'web': shares add up to 90, not 100 (percent of new traffic, e.g. { blue: 90, green: 10 })");
    }
}
