using System.Reflection;
using System.Text.Json;

namespace FastLb.Host.Upgrade;

/// <summary>Who this process is in the chain of upgrades: shown by <c>ctl status</c> and handed to the next process.</summary>
/// <param name="Generation">1 for a process started normally; one more than its predecessor's after an upgrade.</param>
/// <param name="UpgradedFromPid">The process this one took over from, or null.</param>
internal sealed record ProcessGeneration(int Pid, DateTimeOffset StartedAt, string Version, int Generation, int? UpgradedFromPid)
{
    /// <summary>This process, started normally.</summary>
    public static ProcessGeneration First() => new(Environment.ProcessId, StartedNow(), CurrentVersion, 1, null);

    /// <summary>This process, taking over from <paramref name="previous"/>.</summary>
    public static ProcessGeneration After(ProcessGeneration previous) =>
        new(Environment.ProcessId, StartedNow(), CurrentVersion, previous.Generation + 1, previous.Pid);

    /// <summary>The binary's version: the informational version when set (it may carry a commit), else the assembly version.</summary>
    public static string CurrentVersion { get; } =
        typeof(ProcessGeneration).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ProcessGeneration).Assembly.GetName().Version?.ToString() ?? "unknown";

    private static DateTimeOffset StartedNow()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return new DateTimeOffset(self.StartTime.ToUniversalTime(), TimeSpan.Zero);
    }

    public void Write(Utf8JsonWriter w)
    {
        w.WriteNumber("pid", Pid);
        w.WriteString("started_at", StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("version", Version);
        w.WriteNumber("generation", Generation);
        if (UpgradedFromPid is { } from) w.WriteNumber("upgraded_from_pid", from);
        else w.WriteNull("upgraded_from_pid");
    }

    public static ProcessGeneration Read(JsonElement e) => new(
        e.GetProperty("pid").GetInt32(),
        DateTimeOffset.Parse(e.GetProperty("started_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
        e.GetProperty("version").GetString() ?? "unknown",
        e.GetProperty("generation").GetInt32(),
        e.GetProperty("upgraded_from_pid").ValueKind == JsonValueKind.Number ? e.GetProperty("upgraded_from_pid").GetInt32() : null);
}
