using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

public sealed class SniRoutesConfigTests
{
    private const string Services = """
        services:
          api: { pools: { main: [ 127.0.0.1:9001 ] } }
          web: { pools: { main: [ 127.0.0.1:9002 ] } }
        """;

    [Fact]
    public void Parse_SniRoutes_BoundInOrderLowercased()
    {
        var config = ConfigLoader.Parse("""
            listeners:
              - name: tls-in
                bind: 127.0.0.1:8443
                protocol: tcp
                handshake_timeout: 3s
                sni_routes:
                  - { sni: API.example.com, service: api }
                  - { sni: "*.example.com", service: web }
                  - { service: web }
            """ + "\n" + Services, "ok.yaml");

        var listener = config.Listeners[0];
        Assert.Null(listener.Service);
        Assert.Equal([new SniRouteConfig("api.example.com", "api"), new SniRouteConfig("*.example.com", "web"), new SniRouteConfig(null, "web")], listener.SniRoutes);
        Assert.Equal(TimeSpan.FromSeconds(3), listener.HandshakeTimeout);
    }

    [Theory]
    [InlineData("      - { sni: \"a.*.com\", service: api }", 5, 16, "sni 'a.*.com' of sni route 1 of listener 'tls-in' is not a server name; write a DNS name (api.example.com) or a wildcard for one label (*.example.com)")]
    [InlineData("      - { sni: api.example.com, service: nope }", 5, 42, "unknown service 'nope' in sni route 1 of listener 'tls-in'; services are: api, web")]
    public void Parse_BadSniRoute_PointsAtIt(string route, int line, int column, string message)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"""
            listeners:
              - name: tls-in
                bind: 127.0.0.1:8443
                protocol: tcp
                sni_routes:
            {route}
            """ + "\n" + Services, "bad.yaml"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(message, error.Message);
        Assert.Equal((line + 1, column), (error.Line, error.Column));
    }

    [Fact]
    public void Parse_ServiceAndSniRoutes_Refused()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            listeners:
              - { name: tls-in, bind: 127.0.0.1:8443, protocol: tcp, service: api, sni_routes: [ { service: web } ] }
            """ + "\n" + Services, "bad.yaml"));

        Assert.StartsWith("tcp listener 'tls-in' has both 'service' and 'sni_routes'", Assert.Single(ex.Errors).Message);
    }

    [Fact]
    public void Parse_TwoDefaultsAndADuplicateName_Refused()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            listeners:
              - name: tls-in
                bind: 127.0.0.1:8443
                protocol: tcp
                sni_routes:
                  - { sni: api.example.com, service: api }
                  - { sni: API.example.com, service: web }
                  - { service: web }
                  - { service: api }
            """ + "\n" + Services, "bad.yaml"));

        Assert.Equal(2, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Line == 7 && e.Message == "sni 'API.example.com' of sni route 2 of listener 'tls-in' is already routed at line 6");
        Assert.Contains(ex.Errors, e => e.Line == 9 && e.Message == "sni route 4 of listener 'tls-in' is a second default (no sni); the first is at line 8");
    }
}
