using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>The fastlb binary accepts the shipped fastlb.example.yaml, as the README's install steps run it.</summary>
public sealed class ExampleConfigProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Check_ShippedExampleConfig_OkAndExitZero()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "FastLb.sln"))) root = root.Parent;
        Assert.NotNull(root);
        var example = Path.Combine(root.FullName, "fastlb.example.yaml");

        await using var p = FastLbProcess.Start(root.FullName, "check", "-c", example);
        var code = await p.WaitForExitAsync(Timeout);

        Assert.True(code == 0, $"fastlb check -c {example} exited {code}:\n{p.Log}");
        Assert.Contains($"{example}: ok", p.Log);
    }
}
