using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>Owns one socket fd: the reference count keeps the number from being closed (and reused) mid-syscall.</summary>
internal sealed class SocketFdHandle : SafeHandle
{
    private readonly DescriptorBudget? _budget;

    public SocketFdHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    /// <summary>An fd taken from <paramref name="budget"/>, given back when it closes.</summary>
    public SocketFdHandle(int fd, DescriptorBudget budget) : this(fd) => _budget = budget;

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle()
    {
        var closed = SocketSyscalls.Close((int)handle) == 0;
        _budget?.Give();
        return closed;
    }
}
