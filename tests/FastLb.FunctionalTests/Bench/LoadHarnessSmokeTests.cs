using System.Diagnostics;
using FastLb.FunctionalTests.Host;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Bench;

/// <summary>CI never runs the load harness; this checks that bench/load/run starts and that the configs it writes are valid.</summary>
public class LoadHarnessSmokeTests
{
    // Each run starts a process (the harness script, or dotnet for fastlb check): seconds on a loaded 2-core machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Run_Help_PrintsUsageAndExitsZero()
    {
        var (code, stdout, stderr) = await RunAsync(HarnessPath, "--help");

        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Contains("usage: bench/load/run", stdout, StringComparison.Ordinal);
        Assert.Contains("--dry-run", stdout, StringComparison.Ordinal);
        Assert.Contains("--pin", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_DryRun_WritesConfigsThatFastLbCheckAccepts()
    {
        using var dir = new TempDir();

        var (code, _, stderr) = await RunAsync(HarnessPath, "--dry-run", "--workdir", dir.Path);

        Assert.True(code == 0, $"exit {code}: {stderr}");
        foreach (var threads in new[] { 1, 2 })
        {
            var yaml = dir.File($"fastlb-w{threads}.yaml");
            Assert.True(File.Exists(yaml), $"no {yaml}");
            var (checkCode, checkOut, checkErr) = await RunAsync(
                "dotnet", Path.Combine(AppContext.BaseDirectory, "fastlb.dll"), "check", "-c", yaml);
            Assert.True(checkCode == 0, $"fastlb check -c {yaml}: exit {checkCode}\n{checkOut}{checkErr}");
            Assert.Contains($"workers: {threads}", checkOut, StringComparison.Ordinal);

            var haproxy = File.ReadAllText(dir.File($"haproxy-w{threads}.cfg"));
            Assert.Contains($"nbthread {threads}", haproxy, StringComparison.Ordinal);
            Assert.Contains("http-reuse always", haproxy, StringComparison.Ordinal);
            // Every L7 peer does FastLb's forwarding work: X-Forwarded-For appended, -Proto and -Host set.
            Assert.Contains("option forwardfor", haproxy, StringComparison.Ordinal);
            Assert.Contains("http-request set-header X-Forwarded-Proto http", haproxy, StringComparison.Ordinal);
            Assert.Contains("http-request set-header X-Forwarded-Host %[req.hdr(host)]", haproxy, StringComparison.Ordinal);
            var nginx = File.ReadAllText(Path.Combine(dir.Path, $"nginx-w{threads}", "nginx.conf"));
            Assert.Contains($"worker_processes {threads};", nginx, StringComparison.Ordinal);
            Assert.Contains("keepalive 64;", nginx, StringComparison.Ordinal);
            Assert.Contains("stream {", nginx, StringComparison.Ordinal);
            Assert.Contains("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", nginx, StringComparison.Ordinal);
            Assert.Contains("proxy_set_header X-Forwarded-Proto $scheme;", nginx, StringComparison.Ordinal);
            Assert.Contains("proxy_set_header X-Forwarded-Host $http_host;", nginx, StringComparison.Ordinal);
        }
        var backend = File.ReadAllText(Path.Combine(dir.Path, "backend-1", "nginx.conf"));
        Assert.Contains("return 200 \"hello, world\\n\";", backend, StringComparison.Ordinal);
        Assert.Contains("$http_x_forwarded_for", backend, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("yarp-w1.args")));
    }

    private static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "FastLb.sln"))) return d.FullName;
            }
            throw new InvalidOperationException($"no FastLb.sln above {AppContext.BaseDirectory}");
        }
    }

    private static string HarnessPath => Path.Combine(RepoRoot, "bench", "load", "run");

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout.WaitAsync(Timeout), await stderr.WaitAsync(Timeout));
    }
}
