using System.Net;
using FastLb.Core.Config;
using FastLb.Core.ProxyProtocol;
using Xunit;

namespace FastLb.Tests.Config;

public sealed class ProxyProtocolConfigTests
{
    private static ConfigError SingleError(string yaml)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        return Assert.Single(ex.Errors);
    }

    [Fact]
    public void Parse_AcceptProxyAndSendProxy_Bound()
    {
        var config = ConfigLoader.Parse("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                accept_proxy: { versions: [v2], trusted: [10.0.0.0/8, 192.0.2.7], timeout: 2s }
                routes: [ { service: web } ]
              - { name: raw, bind: 127.0.0.1:8081, protocol: tcp, service: web, accept_proxy: {} }
            services:
              web: { send_proxy: v1, pools: { main: [ 127.0.0.1:9001 ] } }
            """, "ok.yaml");

        var accept = config.Listeners[0].AcceptProxy!;
        Assert.Equal(ProxyVersions.V2, accept.Versions);
        Assert.Equal(TimeSpan.FromSeconds(2), accept.Timeout);
        Assert.True(accept.Expects(IPAddress.Parse("10.1.2.3")));
        Assert.True(accept.Expects(IPAddress.Parse("::ffff:192.0.2.7")));
        Assert.False(accept.Expects(IPAddress.Parse("192.0.2.8")));
        var any = config.Listeners[1].AcceptProxy!;
        Assert.Equal(ProxyVersions.Both, any.Versions);
        Assert.True(any.Expects(IPAddress.Parse("203.0.113.1"))); // no trusted list: every peer must send one
        Assert.Null(new ListenerConfig { Name = "x", Bind = new EndPointConfig("127.0.0.1", 1) }.AcceptProxy);
        Assert.Equal(1, config.Services[0].SendProxy);
    }

    [Fact]
    public void Parse_UnknownProxyVersion_PointsAtIt()
    {
        var error = SingleError("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                accept_proxy: { versions: [v1, v3] }
                routes: [ { service: web } ]
            services:
              web: { pools: { main: [ 127.0.0.1:9001 ] } }
            """);

        Assert.Equal((4, 36), (error.Line, error.Column));
        Assert.Equal("versions of accept_proxy of listener 'web': the value 'v3' is not a PROXY protocol version; expected v1 or v2", error.Message);
    }

    [Fact]
    public void Parse_BadTrustedNetworkAndSendProxy_BothReported()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            listeners:
              - name: web
                bind: 127.0.0.1:8080
                accept_proxy: { trusted: [10.0.0.1/8] }
                routes: [ { service: web } ]
            services:
              web: { send_proxy: v3, pools: { main: [ 127.0.0.1:9001 ] } }
            """, "bad.yaml"));

        Assert.Equal(2, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Line == 4 && e.Message.StartsWith("trusted of accept_proxy of listener 'web': the value '10.0.0.1/8'"));
        Assert.Contains(ex.Errors, e => e.Line == 7 && e.Message.StartsWith("send_proxy must be v1 or v2, got 'v3'"));
    }
}
