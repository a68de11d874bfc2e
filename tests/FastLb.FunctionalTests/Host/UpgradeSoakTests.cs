using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>Upgrades in a row under continuous load: the no-loss guarantee, repeated (CI runs it; filter Category!=Soak to skip locally).</summary>
[Trait("Category", "Soak")]
public class UpgradeSoakTests : IAsyncLifetime
{
    private const int Upgrades = 20;
    private static readonly TimeSpan Timeout = UpgradeHarness.Timeout;
    private readonly UpgradeHarness _lb = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lb.DisposeAsync();

    [Fact]
    public async Task Upgrade_UnderKeepAliveAndNewConnectionLoad_TwentyTimes_LosesNoRequestAndRefusesNoConnection()
    {
        var first = await _lb.StartAsync();
        var web = await _lb.ListenerAsync("web");
        var pg = await _lb.ListenerAsync("pg");
        await using var load = new ContinuousLoad(keepAlive: [web, web], newConnection: [web, web, pg]);
        await load.WaitForProgressAsync(20, Timeout);

        var pid = first.Pid;
        for (var i = 1; i <= Upgrades; i++)
        {
            var reply = await _lb.UpgradeAsync();
            Assert.True(reply.GetProperty("ok").GetBoolean(), $"upgrade {i}: {reply}");
            Assert.Equal(pid, reply.GetProperty("old_pid").GetInt32());
            pid = reply.GetProperty("new_pid").GetInt32();
            await load.WaitForProgressAsync(20, Timeout); // the new process serves before the next upgrade
            Assert.True(load.Failures.Count == 0, $"after upgrade {i}: {string.Join("\n", load.Failures)}");
        }

        var status = await _lb.CtlAsync("status");
        Assert.Equal(pid, status.GetProperty("pid").GetInt32());
        Assert.Equal(Upgrades + 1, status.GetProperty("process").GetProperty("generation").GetInt32());
        Assert.Empty(load.Failures);
        Assert.Equal(web, await _lb.ListenerAsync("web"));
    }
}
