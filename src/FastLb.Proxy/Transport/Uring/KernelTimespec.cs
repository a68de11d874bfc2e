using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct __kernel_timespec</c>, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct KernelTimespec
{
    public long Seconds;
    public long Nanoseconds;
}
