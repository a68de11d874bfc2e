using System.Text.Json;
using FastLb.FunctionalTests.Health;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>A rollout with health checks: a backend of the new pool turning unhealthy mid-step rolls it back at once (unless told to ignore it).</summary>
public sealed class RolloutHealthTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string Yaml(HealthBackend blue, HealthBackend green1, HealthBackend green2) =>
        "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
        + "services:\n  web:\n    active: blue\n"
        // The backend made unhealthy answers 503 at once; the timeout only has to spare the healthy ones a slow answer
        // on a loaded machine (two 200 ms timeouts in a row once marked green-1 unhealthy in CI).
        + "    health_check: { type: http, path: /healthz, interval: 500ms, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 2 }\n"
        + $"    pools:\n      blue:\n        - {blue.Address}\n      green:\n        - {green1.Address}\n        - {green2.Address}\n";

    private static async Task WaitHealthyAsync(HttpLb lb)
    {
        await HttpLb.WaitUntilAsync(async () =>
        {
            var pools = (await lb.CtlOkAsync("status")).GetProperty("services").GetProperty("web").GetProperty("pools");
            return pools.GetProperty("green").GetProperty("healthy").GetInt32() == 2 && pools.GetProperty("blue").GetProperty("healthy").GetInt32() == 1;
        }, "every backend is healthy", Wait);
    }

    [Fact]
    public async Task Rollout_GreenBackendTurnsUnhealthyMidStep_RolledBackAtOnceNamingTheBackend()
    {
        await using var blue = HealthBackend.Start("blue");
        await using var green1 = HealthBackend.Start("green-1");
        await using var green2 = HealthBackend.Start("green-2");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green1, green2));
        await WaitHealthyAsync(lb);
        await using var clients = new RolloutClients(lb.EndPoint, keepAlive: 2);

        // A step that would run for a minute: only the health change can end it.
        await lb.CtlOkAsync("rollout web green --steps 25,100 --interval 60s --min-requests 1000000");
        Assert.Equal("running", (await lb.RolloutAsync()).GetProperty("state").GetString());
        green2.HealthStatus = 503;

        JsonElement rollout = default;
        await HttpLb.WaitUntilAsync(async () => (rollout = await lb.RolloutAsync()).GetProperty("state").GetString() == "rolled_back", "the rollout rolled back", Wait);
        var verdict = Assert.Single(rollout.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("failed", verdict.GetProperty("outcome").GetString());
        Assert.Contains($"green backend {green2.Address} unhealthy", verdict.GetProperty("reason").GetString());
        Assert.StartsWith("rollout web green aborted at step 25%: green backend", rollout.GetProperty("outcome").GetString());
        var web = (await lb.CtlOkAsync("status")).GetProperty("services").GetProperty("web");
        Assert.Equal(100, web.GetProperty("shares").GetProperty("blue").GetInt32());
        Assert.Empty(clients.Failures);
    }

    [Fact]
    public async Task Rollout_IgnoreUnhealthy_UnhealthyGreenBackendDoesNotEndTheStep()
    {
        await using var blue = HealthBackend.Start("blue");
        await using var green1 = HealthBackend.Start("green-1");
        await using var green2 = HealthBackend.Start("green-2");
        await using var lb = await HttpLb.StartAsync(Yaml(blue, green1, green2));
        await WaitHealthyAsync(lb);

        await lb.CtlOkAsync("rollout web green --steps 25,100 --interval 60s --min-requests 1000000 --ignore-unhealthy");
        green2.HealthStatus = 503;
        await HttpLb.WaitUntilAsync(async () =>
            (await lb.CtlOkAsync("status")).GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("green").GetProperty("healthy").GetInt32() == 1,
            "green-2 is unhealthy", Wait);
        await Task.Delay(500); // a few judging ticks (every 100 ms) with green-2 unhealthy

        var rollout = await lb.RolloutAsync();
        Assert.Equal("running", rollout.GetProperty("state").GetString());
        Assert.Empty(rollout.GetProperty("verdicts").EnumerateArray());
        await lb.CtlOkAsync("abort web");
    }
}
