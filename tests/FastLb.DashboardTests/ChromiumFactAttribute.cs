using Xunit;

namespace FastLb.DashboardTests;

/// <summary>A fact that needs Debian's chromium: skipped, with the reason, where /usr/bin/chromium is missing.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Path)) Skip = $"{Path} is not installed here (Debian package chromium; .ci/run installs it)";
    }
}
