using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>A fact that needs a command-line tool: skipped, with the reason, where the tool is not installed.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(string tool, string package)
    {
        if (Find(tool) is null) Skip = $"{tool} is not installed here (Debian package {package}; .ci/run installs it)";
    }

    /// <summary>The tool's full path on PATH (or /usr/bin, /usr/sbin), or null.</summary>
    public static string? Find(string tool)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var dir in dirs.Concat(["/usr/bin", "/usr/sbin", "/bin"]))
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
