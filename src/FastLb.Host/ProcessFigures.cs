using System.Diagnostics;
using System.Reflection;

namespace FastLb.Host;

/// <summary>Process figures for /metrics, status and the dashboard, read from /proc (cheap; no Process object).</summary>
internal static class ProcessFigures
{
    /// <summary>When this process started (first use of this type, early in Main).</summary>
    public static readonly DateTimeOffset StartedAt = DateTimeOffset.UtcNow - (DateTime.Now - Process.GetCurrentProcess().StartTime);

    public static readonly string Version =
        typeof(ProcessFigures).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static double UptimeSeconds => Math.Max(0, (DateTimeOffset.UtcNow - StartedAt).TotalSeconds);

    /// <summary>Resident set size in bytes (/proc/self/statm), 0 when unreadable.</summary>
    public static long ResidentBytes()
    {
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>Open file descriptors (/proc/self/fd), 0 when unreadable.</summary>
    public static int OpenFds()
    {
        try
        {
            var n = 0;
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd")) n++;
            return n;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Threads of the process (/proc/self/status), 0 when unreadable.</summary>
    public static int Threads()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal)) return int.Parse(line.AsSpan(8).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return 0;
    }
}
