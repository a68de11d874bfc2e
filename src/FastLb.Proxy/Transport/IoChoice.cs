using FastLb.Core.Config;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>Which transport a set of event loops runs (epoll or io_uring), what the configuration asked for, and why.</summary>
internal sealed class IoChoice
{
    /// <summary>
    /// Whether <c>auto</c> takes io_uring where it is available. The rule: only when it beats epoll on CPU per request
    /// by 5% or more without a worse p99 in the same run (docs/architecture.md has the numbers behind the answer:
    /// with sends and receives through the ring it does).
    /// </summary>
    internal const bool AutoPrefersUring = true;

    private static readonly Lazy<string?> HostProbe = new(UringSupport.Probe);

    private IoChoice(IoMode requested, bool usesUring, string reason)
    {
        Requested = requested;
        UsesUring = usesUring;
        Reason = reason;
    }

    /// <summary>What the configuration asked for.</summary>
    public IoMode Requested { get; }

    public bool UsesUring { get; }

    /// <summary><c>epoll</c> or <c>io_uring</c>.</summary>
    public string Name => UsesUring ? "io_uring" : "epoll";

    /// <summary>One line for the start log and <c>status</c>: how <see cref="Requested"/> became <see cref="Name"/>.</summary>
    public string Reason { get; }

    /// <summary>Epoll, chosen explicitly (loops made without a configuration in mind).</summary>
    public static IoChoice Epoll { get; } = new(IoMode.Epoll, false, "io: epoll");

    /// <summary>Resolves <paramref name="requested"/> on this host.</summary>
    /// <param name="probe">Why io_uring cannot run here, or null when it can; default: <see cref="UringSupport.Probe"/>, once per process.</param>
    /// <exception cref="IoUnavailableException"><c>io_uring</c> was asked for and the probe refused it.</exception>
    public static IoChoice Resolve(IoMode requested, Func<string?>? probe = null)
    {
        if (requested == IoMode.Epoll) return Epoll;
        var unavailable = probe is null ? HostProbe.Value : probe();
        if (requested == IoMode.IoUring)
        {
            if (unavailable is not null)
            {
                throw new IoUnavailableException(
                    $"io: io_uring cannot run on this host: {unavailable}; set io: epoll, or io: auto to fall back to epoll");
            }
            return new IoChoice(requested, true, "io: io_uring");
        }
        if (unavailable is not null) return new IoChoice(requested, false, $"io: auto chose epoll: io_uring unavailable ({unavailable})");
#pragma warning disable CS0162 // one branch is unreachable until the measured answer changes
        return AutoPrefersUring
            ? new IoChoice(requested, true, "io: auto chose io_uring (available, and measured faster than epoll)")
            : new IoChoice(requested, false, "io: auto chose epoll: io_uring is available but did not measure faster (docs/architecture.md)");
#pragma warning restore CS0162
    }
}
