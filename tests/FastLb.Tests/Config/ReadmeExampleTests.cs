using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Config;

public class ReadmeExampleTests
{
    [Fact]
    public void Parse_ReadmeConfigurationExample_LoadsWithoutErrors()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        var section = readme[readme.IndexOf("## Configuration", StringComparison.Ordinal)..];
        var start = section.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        var yaml = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];

        var config = ConfigLoader.Parse(yaml, "README.md", Path.GetTempPath());

        Assert.Equal(2, config.Listeners.Count);
        Assert.Equal(100, config.FindService("web")!.Shares["blue"]);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastLb.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("FastLb.sln not found above the test output");
    }
}
