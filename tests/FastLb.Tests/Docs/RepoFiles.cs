namespace FastLb.Tests.Docs;

/// <summary>Files of the repository the tests read (docs, the shipped example config).</summary>
internal static class RepoFiles
{
    /// <summary>The repository root: the first folder above the test output that holds FastLb.sln.</summary>
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FastLb.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("FastLb.sln not found above the test output");
        }
    }

    public static string PathOf(string relative) => Path.Combine(Root, relative);
}
