using System.Collections.Concurrent;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>sticky_split: during a split each client keeps its pool (cookie or client address); a swap overrides it at once.</summary>
public sealed class StickySplitTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static string Yaml(CanaryBackend blue, CanaryBackend green, string sticky) =>
        "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
        + $"services:\n  web:\n    split: {{ blue: 50, green: 50 }}\n    sticky_split: {sticky}\n"
        + $"    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n";

    /// <summary>One browser-like client: keeps the cookie it was given and sends it back; returns the backend of each response.</summary>
    private static async Task<List<string>> ClientAsync(HttpLb lb, int requests, ConcurrentQueue<string> setCookies)
    {
        var backends = new List<string>();
        string? cookie = null;
        await using var connection = await lb.ConnectAsync();
        for (var i = 0; i < requests; i++)
        {
            var response = await connection.GetAsync("/", extraHeaders: cookie is null ? "" : $"Cookie: theme=dark; {cookie}\r\n");
            Assert.Equal(200, response.Status);
            if (response.Head["set-cookie"] is { } set)
            {
                setCookies.Enqueue(set);
                cookie = set.Split(';')[0];
            }
            backends.Add(response.Backend!);
        }
        return backends;
    }

    private static async Task<List<List<string>>> ClientsAsync(HttpLb lb, int clients, int requests, ConcurrentQueue<string> setCookies)
    {
        var results = new List<string>[clients];
        await Parallel.ForAsync(0, clients, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            results[i] = await ClientAsync(lb, requests, setCookies).WaitAsync(Wait, CancellationToken.None));
        return [.. results];
    }

    [Fact]
    public async Task Cookie_TwoHundredClients_EachStaysOnOnePool_SwapMovesEveryoneAtOnce()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green, "{ cookie: fastlb_pool, ttl: 1h }"));
        var setCookies = new ConcurrentQueue<string>();

        var runs = await ClientsAsync(lb, 200, 20, setCookies);

        Assert.All(runs, r => Assert.Single(r.Distinct()));
        var onGreen = runs.Count(r => r[0] == "green");
        Assert.InRange(onGreen, 60, 140); // assigned by share: about half each
        Assert.Equal(200, setCookies.Count); // one cookie per client, on its first response only
        Assert.Contains(setCookies, c => c == "fastlb_pool=green; Max-Age=3600; Path=/; HttpOnly");

        await lb.CtlOkAsync("swap web green");
        var afterSwap = await ClientsAsync(lb, 20, 5, new ConcurrentQueue<string>());
        Assert.All(afterSwap, r => Assert.All(r, b => Assert.Equal("green", b)));
        // A client holding a blue cookie goes to green too: the cookie names a pool without share.
        await using var holder = await lb.ConnectAsync();
        var response = await holder.GetAsync("/", extraHeaders: "Cookie: fastlb_pool=blue\r\n");
        Assert.Equal("green", response.Backend);
        Assert.Null(response.Head["set-cookie"]); // no split, nothing to stick to
    }

    [Fact]
    public async Task ClientIp_SameAddressAlwaysOnePool_NoCookie()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green, "{ by: client_ip }"));

        var runs = await ClientsAsync(lb, 10, 10, new ConcurrentQueue<string>());

        Assert.Single(runs.SelectMany(r => r).Distinct()); // every client here is 127.0.0.1
        await using var one = await lb.ConnectAsync();
        Assert.Null((await one.GetAsync("/")).Head["set-cookie"]);
    }
}
