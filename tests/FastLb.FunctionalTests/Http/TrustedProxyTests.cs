using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>trusted_proxies: a trusted peer's X-Forwarded-For is appended to and names the client used for hashing.</summary>
public sealed class TrustedProxyTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly RawHttpBackend[] _backends = [RawHttpBackend.Start("h-1"), RawHttpBackend.Start("h-2"), RawHttpBackend.Start("h-3")];
    private HttpLb _trusting = null!;
    private HttpLb _untrusting = null!;

    public async Task InitializeAsync()
    {
        _trusting = await HttpLb.StartAsync(Config("trusted_proxies: [127.0.0.0/8, 10.0.0.0/8]"));
        _untrusting = await HttpLb.StartAsync(Config("trusted_proxies: [192.0.2.0/24]"));
    }

    private string Config(string trusted) => $"""
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: http
            {trusted}
            routes:
              - service: web
        services:
          web:
            balance: hash
            hash_on: client_ip
            active: main
            pools:
              main:
                - {_backends[0].EndPoint}
                - {_backends[1].EndPoint}
                - {_backends[2].EndPoint}
        """;

    public async Task DisposeAsync()
    {
        await _trusting.DisposeAsync();
        await _untrusting.DisposeAsync();
        foreach (var b in _backends) await b.DisposeAsync();
    }

    [Fact]
    public async Task FromTrustedProxy_ForwardedForAppendedAndForwardedKept()
    {
        await using var client = await _trusting.ConnectAsync();

        await client.RequestAsync("GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\n\r\n").WaitAsync(Timeout);

        var forwarded = _backends.SelectMany(b => b.Requests).Single();
        Assert.Equal("203.0.113.9, 127.0.0.1", string.Join(", ", forwarded.Head.All("x-forwarded-for")));
        Assert.Equal("for=203.0.113.9", forwarded.Head["forwarded"]);
    }

    [Fact]
    public async Task FromUntrustedPeer_ForwardedForReplaced()
    {
        await using var client = await _untrusting.ConnectAsync();

        await client.RequestAsync("GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\n\r\n").WaitAsync(Timeout);

        var forwarded = _backends.SelectMany(b => b.Requests).Single();
        Assert.Equal(["127.0.0.1"], forwarded.Head.All("x-forwarded-for"));
        Assert.False(forwarded.Head.Has("x-real-ip"));
    }

    [Fact]
    public async Task ClientIpHash_FromTrustedProxy_FollowsTheForwardedClient()
    {
        // Through a trusted proxy the client is the rightmost untrusted X-Forwarded-For hop (10.x hops are trusted too):
        // the same client always lands on the same backend, and different clients spread.
        var seen = new Dictionary<string, string>();
        await using var client = await _trusting.ConnectAsync();
        for (var round = 0; round < 2; round++)
        {
            for (var i = 1; i <= 30; i++)
            {
                var response = await client.RequestAsync($"GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.{i}, 10.0.0.{round + 1}\r\n\r\n").WaitAsync(Timeout);
                var backend = response.Backend!;
                if (round == 0) seen[$"{i}"] = backend;
                else Assert.Equal(seen[$"{i}"], backend);
            }
        }
        Assert.True(seen.Values.Distinct().Count() >= 2, "thirty forwarded clients all hashed to one backend");
    }

    [Fact]
    public async Task ClientIpHash_FromUntrustedPeer_IgnoresForwardedFor()
    {
        var backends = new HashSet<string>();
        await using var client = await _untrusting.ConnectAsync();
        for (var i = 1; i <= 20; i++)
        {
            var response = await client.RequestAsync($"GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.{i}\r\n\r\n").WaitAsync(Timeout);
            backends.Add(response.Backend!);
        }
        Assert.Single(backends);
    }
}
