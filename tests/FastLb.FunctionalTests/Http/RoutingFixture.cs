using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// One http listener with a route per matcher kind, each to its own one-backend service named after the matcher,
/// plus service web (blue active, green pinned by header) and two hash services; no catch-all.
/// </summary>
public sealed class RoutingFixture : IAsyncLifetime
{
    internal static readonly string[] Single =
        ["host", "wild", "prefix", "path", "method", "hval", "hpresent", "cookie", "first", "second"];

    internal Dictionary<string, RawHttpBackend> Backends { get; } = [];
    internal RawHttpBackend[] HeaderHash { get; private set; } = [];
    internal RawHttpBackend[] CookieHash { get; private set; } = [];
    internal HttpLb Lb { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        foreach (var name in Single) Backends[name] = RawHttpBackend.Start(name);
        foreach (var name in new[] { "blue-1", "blue-2", "green-1" }) Backends[name] = RawHttpBackend.Start(name);
        HeaderHash = [.. Enumerable.Range(1, 4).Select(i => RawHttpBackend.Start($"hh-{i}"))];
        CookieHash = [.. Enumerable.Range(1, 4).Select(i => RawHttpBackend.Start($"hc-{i}"))];
        var services = string.Concat(Single.Select(name => $"""

              {name}:
                active: main
                pools:
                  main:
                    - {Backends[name].EndPoint}
            """));
        Lb = await HttpLb.StartAsync($"""
            defaults:
              connect_timeout: 1s
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes:
                  - match: {"{"} host: exact.example.com {"}"}
                    service: host
                  - match: {"{"} host: "*.wild.example.com" {"}"}
                    service: wild
                  - match: {"{"} path_prefix: /prefix/ {"}"}
                    service: prefix
                  - match: {"{"} path: /exact {"}"}
                    service: path
                  - match: {"{"} method: DELETE {"}"}
                    service: method
                  - match: {"{"} header: {"{"} name: X-Value, value: yes {"}"} {"}"}
                    service: hval
                  - match: {"{"} header: {"{"} name: x-present {"}"} {"}"}
                    service: hpresent
                  - match: {"{"} cookie: {"{"} name: flavor, value: choc {"}"} {"}"}
                    service: cookie
                  - match: {"{"} path_prefix: /first/ {"}"}
                    service: first
                  - match: {"{"} path_prefix: /first/second {"}"}
                    service: second
                  - match: {"{"} path_prefix: /web, header: {"{"} name: x-fastlb-pool, value: green {"}"} {"}"}
                    service: web
                    pool: green
                  - match: {"{"} path_prefix: /web {"}"}
                    service: web
                  - match: {"{"} path_prefix: /hash/header {"}"}
                    service: hheader
                  - match: {"{"} path_prefix: /hash/cookie {"}"}
                    service: hcookie
            services:
              web:
                active: blue
                pools:
                  blue:
                    - {Backends["blue-1"].EndPoint}
                    - {Backends["blue-2"].EndPoint}
                  green:
                    - {Backends["green-1"].EndPoint}
              hheader:
                balance: hash
                hash_on: header:x-user
                active: main
                pools:
                  main:
            {string.Concat(HeaderHash.Select(b => $"        - {b.EndPoint}\n"))}
              hcookie:
                balance: hash
                hash_on: cookie:session
                active: main
                pools:
                  main:
            {string.Concat(CookieHash.Select(b => $"        - {b.EndPoint}\n"))}{services}
            """);
    }

    public async Task DisposeAsync()
    {
        await Lb.DisposeAsync();
        foreach (var b in Backends.Values.Concat(HeaderHash).Concat(CookieHash)) await b.DisposeAsync();
    }
}
