using System.Diagnostics;
using FastLb.FunctionalTests.Host;
using Xunit;

namespace FastLb.FunctionalTests.Bench;

/// <summary>The 2-minute soak (bench/soak/run): steady load, a swap every second, reloads, backend restarts, slowloris.</summary>
[Trait("Category", "Slow")]
public class SoakTests
{
    [ToolFact("python3", "python3")]
    public async Task Soak_TwoMinutes_NoFailedRequestNoGrowthCleanExit()
    {
        var script = Path.Combine(RepoRoot, "bench", "soak", "run");
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--minutes", "2", "--binary", Path.Combine(AppContext.BaseDirectory, "fastlb.dll") }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(6));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(process.ExitCode == 0, $"soak failed (exit {process.ExitCode}):\n{await stdout}\n{await stderr}");
    }

    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "bench", "soak", "run"))) return dir.FullName;
            }
            throw new DirectoryNotFoundException("bench/soak/run not found above " + AppContext.BaseDirectory);
        }
    }
}
