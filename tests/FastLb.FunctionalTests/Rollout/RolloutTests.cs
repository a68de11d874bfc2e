using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>Progressive rollouts through the control socket against real loopback backends: rollback on a breach, completion, commands, reloads.</summary>
public sealed class RolloutTests
{
    private static readonly TimeSpan Wait = BlueGreenRollout.Wait;

    private static int Share(JsonElement status, string pool) =>
        status.GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty(pool).GetInt32();

    [Fact]
    public async Task Rollout_GreenFailsOneInFive_RolledBackInFirstStep_VerdictNamesErrorRate()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 4, answers: 50, greenFailEvery: 5);
        var (lb, clients) = (setup.Lb, setup.Clients);

        // The breach ends the step as soon as 20 requests reached green; the long interval only keeps a loaded machine,
        // slow to send green its 10% of 200 requests, from judging the step inconclusive first.
        var start = await lb.CtlOkAsync("rollout web green --steps 10,50,100 --interval 3s --min-requests 20 --max-error-rate 5%");
        Assert.Contains("green at 10%", start.GetProperty("message").GetString());

        var rollout = await lb.WaitForRolloutAsync("rolled_back");
        var verdict = Assert.Single(rollout.GetProperty("verdicts").EnumerateArray());
        Assert.Equal(10, verdict.GetProperty("share").GetInt32());
        Assert.True(verdict.GetProperty("outcome").GetString() == "failed", rollout.ToString());
        Assert.InRange(verdict.GetProperty("pool_stats").GetProperty("error_rate").GetDouble(), 0.1, 0.3);
        Assert.Matches(@"^rollout web green aborted at step 10%: error rate [\d.]+% > 5% over [\d.]+ s \(\d+ requests\)$", rollout.GetProperty("outcome").GetString());
        var status = await lb.CtlOkAsync("status");
        Assert.Equal(100, Share(status, "blue"));
        Assert.Equal(0, Share(status, "green"));
        var events = (await lb.CtlOkAsync("events")).GetProperty("events").EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "rollout").ToList();
        Assert.DoesNotContain(events, e => e.GetProperty("message").GetString()!.Contains("step 50%"));
        Assert.Contains(events, e => !e.GetProperty("ok").GetBoolean() && e.GetProperty("message").GetString()!.Contains("aborted at step 10%"));

        // After the rollback every new request reaches blue.
        await clients.WaitForAnswersAsync(40, Wait);
        var after = clients.NowMs;
        await clients.WaitForAnswersAsync(40, Wait);
        Assert.All(clients.Answers.Where(a => a.AtMs > after + 50), a => Assert.Equal("blue", a.Backend));
        Assert.Empty(clients.Failures);
        var metrics = lb.Metrics();
        Assert.Contains("fastlb_rollout_rollbacks_total{service=\"web\"} 1", metrics);
        Assert.Contains("fastlb_rollout_active{service=\"web\",pool=\"green\"} 0", metrics);
    }

    [Fact]
    public async Task Rollout_HealthyGreen_PassesEveryStepAndEndsAsSwap()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 4, answers: 50);
        var (lb, clients) = (setup.Lb, setup.Clients);

        await lb.CtlOkAsync("rollout web green --steps 10,50,100 --interval 300ms --min-requests 5");
        var rollout = await lb.WaitForRolloutAsync("completed");

        Assert.Equal([10, 50, 100], rollout.GetProperty("verdicts").EnumerateArray().Select(v => v.GetProperty("share").GetInt32()));
        Assert.All(rollout.GetProperty("verdicts").EnumerateArray(), v => Assert.Equal("passed", v.GetProperty("outcome").GetString()));
        var status = await lb.CtlOkAsync("status");
        Assert.Equal(100, Share(status, "green"));
        Assert.Equal(JsonValueKind.Object, status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue").GetProperty("draining").ValueKind);
        var done = clients.NowMs;
        await clients.WaitForAnswersAsync(40, Wait);
        Assert.All(clients.Answers.Where(a => a.AtMs > done + 50), a => Assert.Equal("green", a.Backend));
        Assert.Empty(clients.Failures);
        Assert.All(clients.Answers, a => Assert.Equal(200, a.Status));

        // The whole rollout is one step back for rollback.
        await lb.CtlOkAsync("rollback web");
        Assert.Equal(100, Share(await lb.CtlOkAsync("status"), "blue"));
        Assert.Contains("fastlb_rollout_completed_total{service=\"web\"} 1", lb.Metrics());
    }

    [Fact]
    public async Task Rollout_GreenP99FourTimesBlue_RolledBackByP99Ratio()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 8, answers: 50, blueDelayMs: 10, greenDelayMs: 40);
        var (lb, clients) = (setup.Lb, setup.Clients);

        await lb.CtlOkAsync("rollout web green --steps 20,100 --interval 1s --min-requests 10 --max-p99-ratio 1.5");
        var rollout = await lb.WaitForRolloutAsync("rolled_back");

        var verdict = Assert.Single(rollout.GetProperty("verdicts").EnumerateArray());
        Assert.Contains("× blue's", verdict.GetProperty("reason").GetString());
        Assert.True(verdict.GetProperty("pool_stats").GetProperty("p99_ms").GetDouble() >= 40);
        Assert.Empty(clients.Failures);
    }

    [Fact]
    public async Task Rollout_ManualGatePauseResumePromoteAbort()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 2, answers: 20);
        var (lb, clients) = (setup.Lb, setup.Clients);

        await lb.CtlOkAsync("rollout web green --steps 10,50,100 --interval 300ms --min-requests 3 --manual-gate 50");
        var gated = await lb.WaitForRolloutAsync("awaiting_promote");
        Assert.Equal(50, gated.GetProperty("waiting_gate").GetInt32());
        Assert.Equal(10, Share(await lb.CtlOkAsync("status"), "green")); // the passed step's share holds at the gate

        await lb.CtlOkAsync("pause web");
        await lb.WaitForRolloutAsync("paused");
        await lb.CtlOkAsync("resume web");
        await lb.WaitForRolloutAsync("awaiting_promote");

        var promoted = await lb.CtlOkAsync("promote web");
        Assert.True(promoted.GetProperty("changed").GetBoolean());
        Assert.Equal(50, Share(await lb.CtlOkAsync("status"), "green"));
        await lb.CtlOkAsync("pause web");
        Assert.Equal("paused", (await lb.RolloutAsync()).GetProperty("state").GetString());

        var abort = await lb.CtlOkAsync("abort web");
        Assert.Equal("rollout web green aborted at step 50%: aborted by the operator", abort.GetProperty("message").GetString());
        Assert.Equal(100, Share(await lb.CtlOkAsync("status"), "blue"));
        var again = await lb.CtlAsync("abort web");
        Assert.False(again.GetProperty("ok").GetBoolean());
        Assert.Contains("no rollout is running for 'web'", again.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Rollout_NoTraffic_ExtendedThenInconclusive_FailOrPause()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green");
        await using var lb = await HttpLb.StartAsync(BlueGreenRollout.Yaml(blue, green));

        var clock = Stopwatch.StartNew();
        await lb.CtlOkAsync("rollout web green --steps 10,100 --interval 200ms --min-requests 50");
        var failed = await lb.WaitForRolloutAsync("rolled_back");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(600), $"judged after {clock.ElapsedMilliseconds} ms, before 3 intervals");
        var verdict = Assert.Single(failed.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("inconclusive", verdict.GetProperty("outcome").GetString());
        Assert.Contains("0 requests < min_requests 50", verdict.GetProperty("reason").GetString());

        await lb.CtlOkAsync("rollout web green --steps 10,100 --interval 200ms --min-requests 50 --on-inconclusive pause");
        await lb.WaitForRolloutAsync("paused");
        Assert.Equal(10, Share(await lb.CtlOkAsync("status"), "green"));
        await lb.CtlOkAsync("abort web");
    }

    [Fact]
    public async Task Rollout_SurvivesReload_AndFileRolloutStartsWhenActiveChanges()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = CanaryBackend.Start("green");
        const string block = "    rollout: { steps: [10, 50, 100], interval: 300ms, min_requests: 3, manual_gates: [50] }\n";
        await using var lb = await HttpLb.StartAsync(BlueGreenRollout.Yaml(blue, green, rollout: block));
        await using var clients = new RolloutClients(lb.EndPoint, keepAlive: 2);
        await clients.WaitForAnswersAsync(20, Wait);

        // ctl rollout, then a reload of the unchanged file: the rollout carries on where it was.
        await lb.CtlOkAsync("rollout web green --steps 10,50,100 --interval 30s --min-requests 3");
        var before = await lb.RolloutAsync();
        await lb.CtlOkAsync("reload");
        var after = await lb.RolloutAsync();
        Assert.Equal("running", after.GetProperty("state").GetString());
        Assert.Equal(before.GetProperty("started_at").GetString(), after.GetProperty("started_at").GetString());
        Assert.Equal(10, Share(await lb.CtlOkAsync("status"), "green"));
        await lb.CtlOkAsync("abort web");

        // The file's active changes under its rollout block: the reload starts a rollout instead of a swap.
        await lb.RewriteConfigAsync(BlueGreenRollout.Yaml(blue, green, active: "green", rollout: block));
        var reload = await lb.CtlOkAsync("reload");
        var fromFile = await lb.RolloutAsync();
        Assert.Equal("file", fromFile.GetProperty("source").GetString());
        Assert.NotEqual(100, Share(await lb.CtlOkAsync("status"), "green"));
        await lb.WaitForRolloutAsync("awaiting_promote");
        await lb.CtlOkAsync("reload"); // same file again: still waiting at the gate
        Assert.Equal("awaiting_promote", (await lb.RolloutAsync()).GetProperty("state").GetString());
        await lb.CtlOkAsync("promote web");
        await lb.WaitForRolloutAsync("completed");
        var status = await lb.CtlOkAsync("status");
        Assert.Equal(100, Share(status, "green"));
        Assert.Equal("file", status.GetProperty("services").GetProperty("web").GetProperty("source").GetString());
        Assert.Empty(clients.Failures);
    }

    [Fact]
    public async Task Rollout_UnderContinuousLoad_RollbackLosesNoRequest_OnlyGreensOwn500sAtTheStepShare()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 3, answers: 50, newConnection: 2, greenFailEvery: 5);
        var (lb, clients) = (setup.Lb, setup.Clients);

        await lb.CtlOkAsync("rollout web green --steps 10,50,100 --interval 2s --min-requests 30 --max-error-rate 5%");
        await lb.WaitForRolloutAsync("rolled_back");
        await clients.WaitForAnswersAsync(50, Wait);
        await clients.DisposeAsync();

        Assert.Empty(clients.Failures);
        var answers = clients.Answers.ToList();
        Assert.All(answers.Where(a => a.Status != 200), a => Assert.Equal(("green", 500), (a.Backend, a.Status)));
        Assert.All(answers, a => Assert.True(a.Backend is "blue" or "green", $"answered by {a.Backend}"));
        var greenShare = (double)answers.Count(a => a.Backend == "green") / answers.Count;
        Assert.True(greenShare < 0.10, $"green answered {greenShare:P1} of all requests, more than the first step's 10%");
    }

    [Fact]
    public async Task Rollout_FaultInjectedMidStep_RollbackPublishedWithinIntervalPlusOneSecond()
    {
        await using var setup = await BlueGreenRollout.StartAsync(keepAlive: 4, answers: 50);
        var (lb, clients) = (setup.Lb, setup.Clients);
        await lb.CtlOkAsync("rollout web green --steps 20,100 --interval 2s --min-requests 30 --max-error-rate 5%");
        await Task.Delay(300);

        var fault = Stopwatch.StartNew();
        setup.Green.FailEvery = 1;
        await lb.WaitForRolloutAsync("rolled_back", timeout: TimeSpan.FromSeconds(15));
        var elapsed = fault.Elapsed;

        Assert.True(elapsed <= TimeSpan.FromSeconds(3), $"rollback published {elapsed.TotalMilliseconds:0} ms after the fault (interval 2 s)");
        _ = await lb.CtlOkAsync("status");
    }
}
