using FastLb.Core.Config;
using FastLb.Host.Cli;
using Xunit;

namespace FastLb.Tests.Docs;

/// <summary>The shipped fastlb.example.yaml, which the README's install steps copy, is a valid config.</summary>
public sealed class ExampleConfigTests
{
    private static readonly string ExamplePath = RepoFiles.PathOf("fastlb.example.yaml");

    [Fact]
    public void ExampleConfig_Loads_HttpAndTcpListenersWithTheirServices()
    {
        var config = ConfigLoader.LoadFile(ExamplePath);

        Assert.Equal(["web", "pg"], config.Listeners.Select(l => l.Name));
        Assert.Equal(100, config.FindService("web")!.Shares["blue"]);
        Assert.Equal(0, config.FindService("web")!.Shares["green"]);
        Assert.NotNull(config.FindService("postgres"));
        Assert.NotNull(config.Admin.Listen);
        Assert.Equal(Path.Combine(RepoFiles.Root, "fastlb.sock"), config.Admin.ControlSocket);
    }

    [Fact]
    public void CheckCommand_ExampleConfig_OkAndExitZero()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = CheckCommand.Execute(["-c", ExamplePath], stdout, stderr);

        Assert.True(code == 0, $"fastlb check exited {code}:\n{stderr}");
        Assert.StartsWith($"{ExamplePath}: ok", stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal("", stderr.ToString());
    }
}
