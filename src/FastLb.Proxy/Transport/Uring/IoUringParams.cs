using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_params</c>: io_uring_setup's in/out argument, 120 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 120)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Resv0;
    public uint Resv1;
    public uint Resv2;
    public IoSqringOffsets SqOff;
    public IoCqringOffsets CqOff;
}
