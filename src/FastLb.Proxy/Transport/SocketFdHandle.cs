using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>Owns one socket fd: the reference count keeps the number from being closed (and reused) mid-syscall.</summary>
internal sealed class SocketFdHandle : SafeHandle
{
    public SocketFdHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => SocketSyscalls.Close((int)handle) == 0;
}
