namespace FastLb.Host.Upgrade;

/// <summary>How an upgrade ended, as the old process saw it.</summary>
/// <param name="NewPid">The new process (also when it failed), or 0 when it could not be started.</param>
/// <param name="Error">Why it failed; null when the new process is serving.</param>
/// <param name="ReadyAfter">From the start of the upgrade to the new process accepting on every listener.</param>
internal sealed record UpgradeResult(bool Ok, int NewPid, string? Error, TimeSpan ReadyAfter, IReadOnlyList<string> Listeners)
{
    public static UpgradeResult Failed(int pid, string error, TimeSpan after) => new(false, pid, error, after, []);
}
