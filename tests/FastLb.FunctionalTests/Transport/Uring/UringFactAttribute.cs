using FastLb.Proxy.Transport.Uring;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>A fact that is skipped, with the probe's reason, where io_uring cannot run (kernel, sysctl or seccomp).</summary>
public sealed class UringFactAttribute : FactAttribute
{
    private static readonly string? Unavailable = UringSupport.Probe();

    public UringFactAttribute()
    {
        if (Unavailable is not null) Skip = $"io_uring unavailable here: {Unavailable}";
    }
}
