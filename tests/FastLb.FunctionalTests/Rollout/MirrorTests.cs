using System.Diagnostics;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>A route's mirror: copies of requests go to another pool over real sockets; the client's exchange never depends on them.</summary>
public sealed class MirrorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string Yaml(RawHttpBackend blue, RawHttpBackend green, string mirror) =>
        "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
        + $"        mirror: {mirror}\n"
        + $"services:\n  web:\n    active: blue\n    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n";

    private static async Task<JsonElement> MirrorStatusAsync(HttpLb lb) =>
        Assert.Single((await lb.CtlOkAsync("status")).GetProperty("mirrors").EnumerateArray());

    [Fact]
    public async Task Mirror_EveryRequest_GreenGetsCopiesWithBodiesIntact_ClientsAnsweredByBlue()
    {
        await using var blue = RawHttpBackend.Start("blue");
        await using var green = RawHttpBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green, "{ pool: green, percent: 100, max_body: 64KiB }"));
        await using var client = await lb.ConnectAsync();

        var bodies = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var body = new string((char)('a' + i), 1 + i * 3000); // up to ~27 KB, several reads
            bodies.Add(body);
            var response = await client.RequestAsync($"POST /upload/{i} HTTP/1.1\r\nHost: test\r\nContent-Length: {body.Length}\r\n\r\n{body}");
            Assert.Equal(200, response.Status);
            Assert.Equal("blue", response.Backend);
        }
        var chunked = await client.RequestAsync("POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        Assert.Equal(200, chunked.Status);
        var get = await client.GetAsync("/plain");
        Assert.Equal("blue", get.Backend);

        await HttpLb.WaitUntilAsync(() => Task.FromResult(green.Requests.Count == 12), "green got all 12 copies", Wait);
        var copies = green.Requests.ToList();
        for (var i = 0; i < 10; i++)
        {
            var copy = Assert.Single(copies, r => r.Target == $"/upload/{i}");
            Assert.Equal("POST", copy.Method);
            Assert.Equal(bodies[i], copy.BodyText);
            Assert.Equal("close", copy.Head["connection"]);
        }
        Assert.Equal("hello world", Assert.Single(copies, r => r.Target == "/chunked").BodyText);
        Assert.Single(copies, r => r.Target == "/plain" && r.Method == "GET");
        Assert.Equal(12, blue.Requests.Count); // the real requests, once each

        await HttpLb.WaitUntilAsync(async () => (await MirrorStatusAsync(lb)).GetProperty("in_flight").GetInt64() == 0, "copies finished", Wait);
        var mirror = await MirrorStatusAsync(lb);
        Assert.Equal("green", mirror.GetProperty("pool").GetString());
        Assert.Equal(12, mirror.GetProperty("sent").GetInt64());
        Assert.Equal(0, mirror.GetProperty("failed").GetInt64());
        Assert.Equal(0, mirror.GetProperty("dropped").GetInt64());
        var metrics = lb.Metrics();
        Assert.Contains("fastlb_mirror_sent_total{service=\"web\",pool=\"green\"} 12", metrics);
        // The copies' exchanges count in green's own statistics: a release can be judged before it takes traffic.
        await HttpLb.WaitUntilAsync(async () =>
            (await lb.CtlOkAsync("stats web green --window 60s")).GetProperty("pools").GetProperty("green").GetProperty("requests").GetInt64() == 12,
            "green's window shows the 12 copies", Wait);
    }

    [Fact]
    public async Task Mirror_Percent_GreenSeesAboutThatShare_BodyOverMaxBodyDropped()
    {
        await using var blue = RawHttpBackend.Start("blue");
        await using var green = RawHttpBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green, "{ pool: green, percent: 25, max_body: 100 }"));
        await using var client = await lb.ConnectAsync();

        for (var i = 0; i < 400; i++) Assert.Equal(200, (await client.GetAsync($"/n/{i}")).Status);
        await HttpLb.WaitUntilAsync(async () => (await MirrorStatusAsync(lb)).GetProperty("in_flight").GetInt64() == 0, "copies finished", Wait);
        Assert.InRange(green.Requests.Count, 60, 140); // 25% of 400 = 100

        var before = green.Requests.Count;
        var big = new string('x', 101);
        for (var i = 0; i < 40; i++) Assert.Equal(200, (await client.RequestAsync($"POST /big HTTP/1.1\r\nHost: test\r\nContent-Length: 101\r\n\r\n{big}")).Status);
        var mirror = await MirrorStatusAsync(lb);
        Assert.InRange(mirror.GetProperty("dropped").GetInt64(), 1, 40); // the ones chosen by percent, none sent
        Assert.Equal(before, green.Requests.Count);
    }

    [Fact]
    public async Task Mirror_HangingGreen_ClientsUnaffected_InFlightBoundHolds_ThenFailingGreenCounted()
    {
        var hang = new TaskCompletionSource();
        await using var blue = RawHttpBackend.Start("blue");
        var answer500 = false;
        await using var green = RawHttpBackend.Start("green", async (request, connection, ct) =>
        {
            if (Volatile.Read(ref answer500))
            {
                await connection.SendAsync("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", ct);
                return false;
            }
            await hang.Task.WaitAsync(ct); // never answers until the test ends
            return false;
        });
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green, "{ pool: green, percent: 100, max_in_flight: 5 }"));
        await using var client = await lb.ConnectAsync();

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 50; i++)
        {
            var clock = Stopwatch.StartNew();
            var response = await client.GetAsync($"/h/{i}");
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            Assert.Equal(200, response.Status);
            Assert.Equal("blue", response.Backend);
        }
        // A hanging mirror would hold each request for the response_head_timeout (30 s); the client never waits for it.
        Assert.True(slowest < TimeSpan.FromSeconds(3), $"slowest client request took {slowest.TotalMilliseconds:0} ms");
        await HttpLb.WaitUntilAsync(() => Task.FromResult(green.Requests.Count == 5), "the 5 in-flight copies reached green", Wait);
        var mirror = await MirrorStatusAsync(lb);
        Assert.Equal(5, mirror.GetProperty("in_flight").GetInt64());
        Assert.Equal(45, mirror.GetProperty("dropped").GetInt64());
        Assert.Equal(5, green.Requests.Count);

        // Green starts failing: the hanging copies end (the backend closes them), new copies get 500s; clients still fine.
        Volatile.Write(ref answer500, true);
        hang.SetResult();
        await HttpLb.WaitUntilAsync(async () => (await MirrorStatusAsync(lb)).GetProperty("in_flight").GetInt64() == 0, "the hanging copies ended", Wait);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await client.GetAsync($"/f/{i}")).Status);
            await HttpLb.WaitUntilAsync(async () => (await MirrorStatusAsync(lb)).GetProperty("in_flight").GetInt64() == 0, "the copy ended", Wait);
        }
        mirror = await MirrorStatusAsync(lb);
        Assert.Equal(8, mirror.GetProperty("sent").GetInt64());
        Assert.Equal(8, mirror.GetProperty("failed").GetInt64()); // 5 closed without a response, 3 answered 500
        Assert.Equal(53, blue.Requests.Count);
    }
}
