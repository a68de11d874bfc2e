using FastLb.Host.Demo;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Host;

/// <summary>Two blue and two green named HTTP backends on loopback, and a config text for them.</summary>
internal sealed class DemoBackends : IAsyncDisposable
{
    public DemoBackends()
    {
        All = [new DemoBackend("blue-1"), new DemoBackend("blue-2"), new DemoBackend("green-1"), new DemoBackend("green-2")];
        foreach (var b in All) b.Start();
    }

    public DemoBackend[] All { get; }

    /// <summary>
    /// A tcp listener on 127.0.0.1:0 in front of service web (blue active), control socket in <paramref name="dir"/>
    /// (no admin section without it: <see cref="HttpLb"/> adds its own).
    /// </summary>
    public string TcpConfig(string? dir = null, string shares = "active: blue", string drainTimeout = "1s") => (dir is null ? "" : $"""
        admin:
          control_socket: {Path.Combine(dir, "fastlb.sock")}

        """) + $"""
        defaults:
          connect_timeout: 1s
          drain_timeout: {drainTimeout}
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: tcp
            service: web
        services:
          web:
            {shares}
            drain_timeout: {drainTimeout}
            pools:
              blue:
                - {All[0].EndPoint}
                - {All[1].EndPoint}
              green:
                - {All[2].EndPoint}
                - {All[3].EndPoint}
        """;

    public async ValueTask DisposeAsync()
    {
        foreach (var b in All) await b.DisposeAsync();
    }
}
