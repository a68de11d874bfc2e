using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>Owns one socket fd: the reference count keeps the number from being closed (and reused) mid-syscall.</summary>
internal sealed class SocketFdHandle : SafeHandle
{
    private readonly DescriptorBudget? _budget;
    private EpollLoop? _ringCloser;

    public SocketFdHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    /// <summary>An fd taken from <paramref name="budget"/>, given back when it closes.</summary>
    public SocketFdHandle(int fd, DescriptorBudget budget) : this(fd) => _budget = budget;

    public override bool IsInvalid => handle == -1;

    /// <summary>
    /// Closes the fd with an IORING_OP_CLOSE in <paramref name="loop"/>'s next submission instead of a close() of its
    /// own (a ring loop's socket; set before anything else can release the handle).
    /// </summary>
    internal void CloseThroughRing(EpollLoop loop) => _ringCloser = loop;

    protected override bool ReleaseHandle()
    {
        // The last reference is gone: no syscall or SQE refers to the number any more (arms hold a reference until
        // the kernel took their SQE), so the ring may close it whenever its next entry comes.
        var closed = _ringCloser is { } loop && loop.TryCloseThroughRing((int)handle)
            || SocketSyscalls.Close((int)handle) == 0;
        // Given back as the close is queued: the descriptor is closed by the loop's next entry, within the reserve
        // the budget keeps below the descriptor limit.
        _budget?.Give();
        return closed;
    }
}
