using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Cli;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>A reload changes nothing it should not, and warns only about what the file really asks for.</summary>
public class DemoReloadTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Demo_Reload_IsOkWithoutWarnings()
    {
        using var dir = new TempDir();
        await using var backends = new DemoBackends();
        var yaml = DemoCommand.DemoConfigText(0, backends.All).Replace("./fastlb.sock", dir.File("fastlb.sock"), StringComparison.Ordinal);
        var (runtime, config) = DemoCommand.CreateRuntime(yaml);
        await using var _ = runtime;
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));

        var reload = await runtime.ReloadAsync().WaitAsync(Timeout);

        Assert.True(reload.Ok, string.Join("; ", reload.Errors));
        Assert.Empty(reload.Warnings); // the demo has no file: nothing in it can differ from what runs
    }

    [Fact]
    public async Task Reload_ChangedPinWorkers_WarnsInTheReplyThatOnlyARestartChangesIt()
    {
        using var dir = new TempDir();
        await using var backends = new DemoBackends();
        var yaml = DemoCommand.DemoConfigText(0, backends.All).Replace("./fastlb.sock", dir.File("fastlb.sock"), StringComparison.Ordinal);
        var config = ConfigLoader.Parse(yaml, "<test>", dir.Path);
        var edited = yaml.Replace("pin_workers: false", "pin_workers: true", StringComparison.Ordinal);
        await using var runtime = new FastLbRuntime(() => ConfigLoader.Parse(edited, "<test>", dir.Path), new WorkerModel(config.Workers, config.PinWorkers, config.Io));
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));

        var reload = await runtime.ReloadAsync().WaitAsync(Timeout);

        Assert.True(reload.Ok);
        var warning = Assert.Single(reload.Warnings);
        Assert.Equal("pin_workers: true in the file, false running; it changes only on restart", warning);
    }
}
