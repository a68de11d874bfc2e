using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>--preview-mirror: a step 0 at which green takes no real traffic and is judged on the copies a route's mirror sends it.</summary>
public sealed class RolloutPreviewMirrorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static async Task<JsonElement> WaitForAsync(HttpLb lb, Func<JsonElement, bool> done, string what)
    {
        JsonElement rollout = default;
        await HttpLb.WaitUntilAsync(async () => done(rollout = (await lb.CtlOkAsync("rollout-status web")).GetProperty("rollout")), what, Wait);
        return rollout;
    }

    [Fact]
    public async Task PreviewMirror_FailingGreen_RolledBackAtStepZeroBeforeAnyClientReachedIt_HealthyGreenMovesOn()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green", failEvery: 1);
        await using var lb = await HttpLb.StartAsync(
            "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
            + "        mirror: { pool: green, percent: 100 }\n"
            + $"services:\n  web:\n    active: blue\n    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n");
        await using var clients = new RolloutClients(lb.EndPoint, keepAlive: 2);
        await clients.WaitForAnswersAsync(10, Wait);

        var start = await lb.CtlOkAsync("rollout web green --steps 50,100 --preview-mirror --interval 10s --min-requests 10 --max-error-rate 5%");
        Assert.Contains("steps 0,50,100", start.GetProperty("message").GetString());
        var failed = await WaitForAsync(lb, r => r.GetProperty("state").GetString() == "rolled_back", "the preview rolled back");
        var verdict = Assert.Single(failed.GetProperty("verdicts").EnumerateArray());
        Assert.Equal(0, verdict.GetProperty("share").GetInt32());
        Assert.Equal(1.0, verdict.GetProperty("pool_stats").GetProperty("error_rate").GetDouble());
        Assert.StartsWith("rollout web green aborted at step 0%: error rate 100% > 5%", failed.GetProperty("outcome").GetString());
        // Only copies reached green: every client answer came from blue, with 200.
        Assert.All(clients.Answers, a => Assert.Equal(("blue", 200), (a.Backend, a.Status)));
        Assert.True(green.Served >= 10, $"green served {green.Served} copies");

        // A healthy green passes the preview and gets its first real share.
        green.FailEvery = 0;
        await lb.CtlOkAsync("rollout web green --steps 50,100 --preview-mirror --interval 300ms --min-requests 5");
        var moved = await WaitForAsync(lb, r => r.GetProperty("share").GetInt32() == 50, "the rollout moved past the preview");
        var passed = moved.GetProperty("verdicts")[0];
        Assert.Equal((0, "passed"), (passed.GetProperty("share").GetInt32(), passed.GetProperty("outcome").GetString()));
        await lb.CtlOkAsync("abort web");
        Assert.Empty(clients.Failures);
    }

    [Fact]
    public async Task PreviewMirror_NoRouteMirrorsToThePool_Refused()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(
            "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
            + $"services:\n  web:\n    active: blue\n    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n");

        var reply = await lb.CtlAsync("rollout web green --preview-mirror");

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.Contains("no route mirrors to web/green", reply.GetProperty("error").GetString());
    }
}
