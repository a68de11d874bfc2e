using System.Diagnostics;
using System.Text.RegularExpressions;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>packaging/fastlb.service: valid for systemd, hardened to an exposure of 3.0 or less, and consistent with the docs.</summary>
public sealed partial class SystemdUnitTests : IDisposable
{
    private readonly TempDir _dir = new();

    private static string UnitPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "packaging", "fastlb.service");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("packaging/fastlb.service not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The unit with its binary path pointed at an executable that exists here (verify checks that it does).</summary>
    private string CopyForVerify()
    {
        var unit = File.ReadAllText(UnitPath).Replace("/usr/local/bin/fastlb", "/bin/true", StringComparison.Ordinal);
        var path = _dir.File("fastlb.service");
        File.WriteAllText(path, unit);
        return path;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }

    [ToolFact("systemd-analyze", "systemd")]
    public async Task Verify_PackagedUnit_NoErrors()
    {
        var (exit, output) = await RunAsync(ToolFactAttribute.Find("systemd-analyze")!, "verify", CopyForVerify());

        Assert.True(exit == 0 && output.Trim().Length == 0, $"systemd-analyze verify (exit {exit}):\n{output}");
    }

    [ToolFact("systemd-analyze", "systemd")]
    public async Task SecurityOffline_PackagedUnit_ExposureAtMost3()
    {
        var (exit, output) = await RunAsync(ToolFactAttribute.Find("systemd-analyze")!, "security", "--offline=yes", "--threshold=30", CopyForVerify());

        var match = ExposureLine().Match(output);
        Assert.True(match.Success, $"no exposure level in:\n{output}");
        var exposure = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(exit == 0 && exposure <= 3.0, $"exposure {exposure} (exit {exit}):\n{output}");
    }

    [Fact]
    public void Unit_TimeoutStopSec_AboveTheDefaultDrainTimeout()
    {
        // A stop drains for defaults.drain_timeout (30 s unless the file says otherwise): systemd must wait longer.
        var unit = File.ReadAllText(UnitPath);
        var timeout = TimeoutStopSec().Match(unit);
        Assert.True(timeout.Success, "TimeoutStopSec missing");
        Assert.True(int.Parse(timeout.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > new FastLb.Core.Config.DefaultsConfig().DrainTimeout.TotalSeconds);
        foreach (var required in new[] { "DynamicUser=yes", "RuntimeDirectory=fastlb", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "PrivateTmp=yes",
                     "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK", "SystemCallArchitectures=native", "SystemCallFilter=@system-service", "LimitNOFILE=" })
        {
            Assert.Contains(required, unit);
        }
    }

    [GeneratedRegex(@"exposure level for [^:]+: (\d+(?:\.\d+)?)")]
    private static partial Regex ExposureLine();

    [GeneratedRegex(@"(?m)^TimeoutStopSec=(\d+)s\s*$")]
    private static partial Regex TimeoutStopSec();

    public void Dispose() => _dir.Dispose();
}
