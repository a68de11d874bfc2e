using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Health;

/// <summary>
/// A drained pool that a route still pins keeps serving that route: its drain deadline cuts only what came by share,
/// and a request cut while waiting for its response head gets 503 naming the drain.
/// </summary>
public sealed class PinnedDrainTests
{
    private static RawHttpBackend Backend(string name) => RawHttpBackend.Start(name, async (request, connection, ct) =>
    {
        if (request.Target.StartsWith("/slow", StringComparison.Ordinal)) await Task.Delay(1500, ct).ConfigureAwait(false);
        await connection.SendAsync(RawHttpBackend.Ok(name), ct).ConfigureAwait(false);
        return true;
    });

    private static string Yaml(RawHttpBackend blue, RawHttpBackend green) =>
        "defaults:\n  connect_timeout: 1s\n  drain_timeout: 500ms\n"
        + "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n"
        + "      - match: { header: { name: x-fastlb-pool, value: green } }\n        service: web\n        pool: green\n"
        + "      - service: web\n"
        + $"services:\n  web:\n    active: blue\n    drain_timeout: 500ms\n    pools:\n      blue: [ {blue.EndPoint} ]\n      green: [ {green.EndPoint} ]\n";

    private static JsonElement Pool(JsonElement status, string pool) =>
        status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty(pool);

    [Fact]
    public async Task PreviewRoute_AfterSwapAndRollback_KeepsGetting200PastTheDrainDeadline()
    {
        await using var blue = Backend("blue");
        await using var green = Backend("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green));
        await lb.CtlOkAsync("swap web green");
        await using (var shared = await lb.ConnectAsync())
        {
            Assert.Equal("green", (await shared.GetAsync("/")).Backend);
        }
        await lb.CtlOkAsync("rollback web");

        // A preview request in flight across the deadline, and new ones after it.
        await using var slow = await lb.ConnectAsync();
        var inFlight = slow.GetAsync("/slow", extraHeaders: "x-fastlb-pool: green\r\n");
        await HttpLb.WaitUntilAsync(async () =>
            Pool(await lb.CtlOkAsync("status"), "green").GetProperty("draining") is { ValueKind: JsonValueKind.Object } d
            && d.GetProperty("drained_at").ValueKind == JsonValueKind.String, "shared traffic has left green");
        await Task.Delay(700); // past the 500 ms deadline

        var slowResponse = await inFlight.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(200, slowResponse.Status);
        Assert.Equal("green", slowResponse.Backend);
        await using var preview = await lb.ConnectAsync();
        for (var i = 0; i < 5; i++)
        {
            var response = await preview.GetAsync("/", extraHeaders: "x-fastlb-pool: green\r\n");
            Assert.Equal(200, response.Status);
            Assert.Equal("green", response.Backend);
        }
        await using var shared2 = await lb.ConnectAsync();
        Assert.Equal("blue", (await shared2.GetAsync("/")).Backend);
        var pool = Pool(await lb.CtlOkAsync("status"), "green");
        Assert.True(pool.GetProperty("pinned").GetBoolean());
        Assert.Equal(0, pool.GetProperty("draining").GetProperty("aborted").GetInt32());
        Assert.Equal("active", pool.GetProperty("backends")[0].GetProperty("state").GetString()); // it takes traffic through the pinned route
    }

    [Fact]
    public async Task SharedRequestWaitingForHead_AtDrainDeadline_Gets503NamingTheDrain()
    {
        await using var blue = Backend("blue");
        await using var green = Backend("green");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green));
        await lb.CtlOkAsync("swap web green");
        await using var client = await lb.ConnectAsync();
        var waiting = client.GetAsync("/slow");
        await HttpLb.WaitUntilAsync(async () => Pool(await lb.CtlOkAsync("status"), "green").GetProperty("live").GetInt32() == 1, "the request reached green");

        await lb.CtlOkAsync("rollback web");

        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(503, response.Status);
        Assert.Equal("close", response.Head["connection"]);
        Assert.Contains("the drain of web/green reached its deadline", response.BodyText);
        await HttpLb.WaitUntilAsync(async () =>
            Pool(await lb.CtlOkAsync("status"), "green").GetProperty("draining").GetProperty("aborted").GetInt32() == 1, "the cut is counted");
    }
}
