using System.Diagnostics;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Health;

/// <summary>Active checks through an in-process FastLb: backends leave and return by their /healthz, green is checked before it has a share, the release gate.</summary>
public sealed class ActiveHealthCheckTests
{

    private static string Yaml(string check, params (string Pool, HealthBackend[] Backends)[] pools)
    {
        var poolText = string.Concat(pools.Select(p => $"      {p.Pool}:\n" + string.Concat(p.Backends.Select(b => $"        - {b.EndPoint}\n"))));
        return "defaults:\n  connect_timeout: 1s\n  drain_timeout: 2s\n"
               + "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
               + $"services:\n  web:\n    active: {pools[0].Pool}\n    health_check: {check}\n    pools:\n{poolText}";
    }

    // A check may take its whole interval: a shorter timeout timed out checks of a healthy backend on a loaded machine.
    // 500 ms: at 300 ms the spread test failed once under a fully loaded machine, the healthy backend answering none
    // of 30 requests (two slow checks in a row take it out too); the backend made unhealthy answers 503 at once.
    private const string FastCheck = "{ path: /healthz, interval: 500ms, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 2 }";

    private static JsonElement Backend(JsonElement status, string pool, string address)
    {
        var backends = status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty(pool).GetProperty("backends");
        return backends.EnumerateArray().First(b => b.GetProperty("address").GetString() == address);
    }

    private static async Task<string> HealthAsync(HttpLb lb, string pool, HealthBackend b) =>
        Backend(await lb.CtlOkAsync("status"), pool, b.Address).GetProperty("health").GetString()!;

    /// <summary>Waits until status shows <paramref name="b"/> as <paramref name="health"/> and the table routes by it (one more tick).</summary>
    private static async Task WaitHealthAsync(HttpLb lb, string pool, HealthBackend b, string health, TimeSpan? within = null)
    {
        await HttpLb.WaitUntilAsync(async () => await HealthAsync(lb, pool, b) == health, $"{b.Name} is {health}", within);
    }

    /// <summary>Waits until the published table (status shows its effective weight) routes to <paramref name="b"/>, or no longer does.</summary>
    private static Task WaitRoutedAsync(HttpLb lb, string pool, HealthBackend b, bool routed) =>
        HttpLb.WaitUntilAsync(async () => Backend(await lb.CtlOkAsync("status"), pool, b.Address).GetProperty("effective_weight").GetDouble() > 0 == routed,
            $"the table {(routed ? "routes to" : "leaves out")} {b.Name}");

    private static async Task<Dictionary<string, int>> SpreadAsync(HttpLb lb, int requests)
    {
        var counts = new Dictionary<string, int>();
        await using var client = await lb.ConnectAsync();
        for (var i = 0; i < requests; i++)
        {
            var response = await client.GetAsync("/");
            var key = response.Status == 200 ? response.Backend! : response.Status.ToString();
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    [Fact]
    public async Task HealthPathFails_TakenOutWithinThresholdsThenBackAfterPasses()
    {
        await using var a = HealthBackend.Start("a");
        await using var b = HealthBackend.Start("b");
        await using var lb = await HttpLb.StartAsync(Yaml(FastCheck, ("main", [a, b])));
        await WaitHealthAsync(lb, "main", a, "healthy");
        await WaitHealthAsync(lb, "main", b, "healthy");

        b.HealthStatus = 503;
        var clock = Stopwatch.StartNew();
        await WaitHealthAsync(lb, "main", b, "unhealthy");
        // unhealthy_threshold × interval + one interval, plus slack for a loaded 2-core machine.
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(2 * 500 + 500 + 1500), $"taken out after {clock.Elapsed}");
        await WaitRoutedAsync(lb, "main", b, routed: false); // the next tick publishes the table without b
        var served = b.Served;
        var spread = await SpreadAsync(lb, 30);
        Assert.True(spread.GetValueOrDefault("a") == 30, $"a did not answer all 30 requests: {string.Join(", ", spread)}");
        Assert.Equal(served, b.Served);
        var status = Backend(await lb.CtlOkAsync("status"), "main", b.Address);
        Assert.Equal("status 503", status.GetProperty("last_check").GetProperty("result").GetString());
        Assert.Equal(0, status.GetProperty("effective_weight").GetDouble());

        b.HealthStatus = 200;
        await WaitHealthAsync(lb, "main", b, "healthy");
        var back = Backend(await lb.CtlOkAsync("status"), "main", b.Address);
        Assert.True(back.GetProperty("checks_passed_in_row").GetInt32() >= 2, $"healthy again without healthy_threshold passes: {back}");
        await WaitRoutedAsync(lb, "main", b, routed: true);
        var again = await SpreadAsync(lb, 30);
        Assert.True(again.GetValueOrDefault("b") > 0, $"b took none of 30 requests once back: {string.Join(", ", again)}");
    }

    [Fact]
    public async Task NewBackend_NoTrafficBeforeItsFirstPass()
    {
        await using var a = HealthBackend.Start("a");
        await using var b = HealthBackend.Start("b");
        b.HealthStatus = 500;
        await using var lb = await HttpLb.StartAsync(Yaml(FastCheck, ("main", [a, b])));
        await WaitHealthAsync(lb, "main", a, "healthy");
        await WaitRoutedAsync(lb, "main", a, routed: true);
        await WaitHealthAsync(lb, "main", b, "unhealthy"); // its first checks came and failed

        var spread = await SpreadAsync(lb, 20);

        Assert.Equal(20, spread.GetValueOrDefault("a"));
        Assert.Equal(0, b.Served);
        Assert.True(b.Checks > 0);
        Assert.Equal("unhealthy", await HealthAsync(lb, "main", b));
    }

    [Fact]
    public async Task PoolWithoutShare_IsChecked()
    {
        await using var blue = HealthBackend.Start("blue");
        await using var green = HealthBackend.Start("green");

        await using var lb = await HttpLb.StartAsync(Yaml(FastCheck, ("blue", [blue]), ("green", [green])));

        await WaitHealthAsync(lb, "green", green, "healthy");
        Assert.True(green.Checks >= 1);
        Assert.Equal(0, green.Served);
        var pool = (await lb.CtlOkAsync("status")).GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("green");
        Assert.Equal(0, pool.GetProperty("share").GetInt32());
        Assert.Equal(1, pool.GetProperty("healthy").GetInt32());
        Assert.True(pool.GetProperty("gate").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task HangingCheck_IsCutAtTimeout()
    {
        await using var a = HealthBackend.Start("a");
        a.HealthStatus = 0; // accepts, never answers
        await using var lb = await HttpLb.StartAsync(Yaml("{ path: /healthz, interval: 400ms, timeout: 150ms }", ("main", [a])));

        await WaitHealthAsync(lb, "main", a, "unhealthy");

        var last = Backend(await lb.CtlOkAsync("status"), "main", a.Address).GetProperty("last_check");
        Assert.Equal("timeout", last.GetProperty("error").GetString());
        Assert.InRange(last.GetProperty("latency_ms").GetDouble(), 140, 1000);
    }

    [Fact]
    public async Task NothingHealthy_503WithRetryAfterNamingServiceAndPool()
    {
        await using var a = HealthBackend.Start("a");
        a.HealthStatus = 503;
        await using var lb = await HttpLb.StartAsync(Yaml("{ path: /healthz, interval: 1s, timeout: 500ms }", ("main", [a])));
        await WaitHealthAsync(lb, "main", a, "unhealthy");

        await using var client = await lb.ConnectAsync();
        var response = await client.GetAsync("/");

        Assert.Equal(503, response.Status);
        Assert.Equal("1", response.Head["retry-after"]);
        Assert.Equal("no healthy backend in service 'web' pool 'main'\n", response.BodyText);
        Assert.Equal(0, a.Served);
    }

    [Fact]
    public async Task Gate_SwapToUnhealthyGreen_RefusedUnlessForced_RollbackWarns()
    {
        await using var blue = HealthBackend.Start("blue");
        await using var green = HealthBackend.Start("green");
        green.HealthStatus = 500;
        await using var lb = await HttpLb.StartAsync(Yaml(FastCheck, ("blue", [blue]), ("green", [green])));
        await WaitHealthAsync(lb, "blue", blue, "healthy");
        await WaitHealthAsync(lb, "green", green, "unhealthy");

        var refused = await lb.CtlAsync("swap web green");
        Assert.False(refused.GetProperty("ok").GetBoolean());
        Assert.Contains($"{green.Address} unhealthy (status 500)", refused.GetProperty("error").GetString());

        var forced = await lb.CtlOkAsync("swap web green --force");
        Assert.Contains("forced past the release gate", forced.GetProperty("warnings")[0].GetString());

        blue.HealthStatus = 500;
        await WaitHealthAsync(lb, "blue", blue, "unhealthy");
        var back = await lb.CtlOkAsync("rollback web");
        Assert.Contains("rolled back to an unhealthy pool", back.GetProperty("warnings")[0].GetString());
    }
}
