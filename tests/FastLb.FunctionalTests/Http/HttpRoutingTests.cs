using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Routes by each matcher, first match wins, 404 without a match, pinned preview pool, hash affinity.</summary>
public sealed class HttpRoutingTests(RoutingFixture fixture) : IClassFixture<RoutingFixture>
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;

    /// <summary>Request line target, Host, extra header lines, expected backend.</summary>
    public static TheoryData<string, string, string, string> Matches => new()
    {
        { "GET /any", "exact.example.com", "", "host" },
        { "GET /any", "EXACT.Example.COM", "", "host" },
        { "GET /any", "exact.example.com:8080", "", "host" },
        { "GET /any", "a.wild.example.com", "", "wild" },
        { "GET /any", "A.Wild.Example.Com:443", "", "wild" },
        { "GET /any", "deep.a.wild.example.com", "", "wild" },
        { "GET /prefix/", "test", "", "prefix" },
        { "GET /prefix/x/y?q=1", "test", "", "prefix" },
        { "GET /exact", "test", "", "path" },
        { "GET /exact?q=1", "test", "", "path" },
        { "DELETE /any", "test", "", "method" },
        { "GET /any", "test", "X-Value: yes\r\n", "hval" },
        { "GET /any", "test", "x-value: yes\r\n", "hval" },
        { "GET /any", "test", "X-Present: whatever\r\n", "hpresent" },
        { "GET /any", "test", "x-present: \r\n", "hpresent" },
        { "GET /any", "test", "Cookie: flavor=choc\r\n", "cookie" },
        { "GET /any", "test", "Cookie: a=1; flavor=choc; b=2\r\n", "cookie" },
        { "GET /first/second", "test", "", "first" },
        { "GET /first/x", "test", "", "first" },
        { "GET /any", "exact.example.com", "X-Value: yes\r\n", "host" },
        { "DELETE /prefix/a", "test", "", "prefix" },
    };

    /// <summary>Near misses that no route takes: request line target, Host, extra header lines.</summary>
    public static TheoryData<string, string, string> Misses => new()
    {
        { "GET /any", "other.example.com", "" },
        { "GET /any", "exact.example.com.evil", "" },
        { "GET /any", "wild.example.com", "" },
        { "GET /any", "awild.example.com", "" },
        { "GET /prefix", "test", "" },
        { "GET /exact/more", "test", "" },
        { "GET /Exact", "test", "" },
        { "POST /any", "test", "Content-Length: 0\r\n" },
        { "GET /any", "test", "X-Value: no\r\n" },
        { "GET /any", "test", "X-Value: YES\r\n" },
        { "GET /any", "test", "Cookie: flavor=vanilla\r\n" },
        { "GET /any", "test", "Cookie: xflavor=choc\r\n" },
        { "GET /any", "test", "X-Flavor: choc\r\n" },
    };

    [Theory]
    [MemberData(nameof(Matches))]
    public async Task Route_MatchingRequest_ReachesItsService(string requestLine, string host, string headers, string expected)
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync($"{requestLine} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n").WaitAsync(Timeout);

        Assert.True(response.Status == 200, $"expected 200 from {expected}, got:\n{response}");
        Assert.Equal(expected, response.Backend);
    }

    [Theory]
    [MemberData(nameof(Misses))]
    public async Task Route_NoRouteMatches_404WithShortBodyAndConnectionUsable(string requestLine, string host, string headers)
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync($"{requestLine} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n").WaitAsync(Timeout);

        Assert.True(response.Status == 404, $"expected 404, got:\n{response}");
        Assert.Null(response.Backend);
        Assert.InRange(response.Body.Length, 1, 512);
        var next = await client.GetAsync("/exact").WaitAsync(Timeout);
        Assert.Equal("path", next.Backend);
    }

    [Fact]
    public async Task Route_PinnedGreenPool_PreviewsGreenWhileBlueServesEveryoneElse()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        for (var i = 0; i < 6; i++)
        {
            var preview = await client.GetAsync("/web", extraHeaders: "x-fastlb-pool: green\r\n").WaitAsync(Timeout);
            var normal = await client.GetAsync("/web").WaitAsync(Timeout);
            Assert.Equal("green-1", preview.Backend);
            Assert.StartsWith("blue-", normal.Backend);
        }
    }

    [Fact]
    public async Task Route_EachRequestOnOneConnection_RoutedOnItsOwn()
    {
        await using var client = await fixture.Lb.ConnectAsync();

        Assert.Equal("prefix", (await client.GetAsync("/prefix/1").WaitAsync(Timeout)).Backend);
        Assert.Equal("path", (await client.GetAsync("/exact").WaitAsync(Timeout)).Backend);
        Assert.Equal("host", (await client.GetAsync("/", "exact.example.com").WaitAsync(Timeout)).Backend);
        Assert.Equal(404, (await client.GetAsync("/nowhere").WaitAsync(Timeout)).Status);
        Assert.Equal("prefix", (await client.GetAsync("/prefix/2").WaitAsync(Timeout)).Backend);
    }

    [Fact]
    public async Task Hash_OnHeader_SameKeySameBackendAcrossConnections()
    {
        var seen = await HashSpreadAsync("/hash/header", user => $"x-user: {user}\r\n");

        Assert.True(seen.Values.Distinct().Count() >= 2, $"24 keys all hashed to one backend: {string.Join(", ", seen)}");
    }

    [Fact]
    public async Task Hash_OnCookie_SameKeySameBackendAcrossConnections()
    {
        var seen = await HashSpreadAsync("/hash/cookie", user => $"Cookie: theme=dark; session={user}; other=1\r\n");

        Assert.True(seen.Values.Distinct().Count() >= 2, $"24 keys all hashed to one backend: {string.Join(", ", seen)}");
    }

    /// <summary>Sends 24 keys, each 6 times over 3 fresh connections; asserts each key sticks to one backend; returns key → backend.</summary>
    private async Task<Dictionary<string, string>> HashSpreadAsync(string path, Func<string, string> keyHeader)
    {
        var seen = new Dictionary<string, string>();
        for (var round = 0; round < 3; round++)
        {
            await using var client = await fixture.Lb.ConnectAsync();
            for (var k = 0; k < 24; k++)
            {
                var key = $"user-{k}";
                for (var repeat = 0; repeat < 2; repeat++)
                {
                    var response = await client.GetAsync(path, extraHeaders: keyHeader(key)).WaitAsync(Timeout);
                    Assert.True(response.Status == 200 && response.Backend is not null, $"key {key}: {response}");
                    if (seen.TryGetValue(key, out var first))
                        Assert.True(first == response.Backend, $"key {key} went to {first} then to {response.Backend} (round {round})");
                    else seen[key] = response.Backend!;
                }
            }
        }
        return seen;
    }
}
