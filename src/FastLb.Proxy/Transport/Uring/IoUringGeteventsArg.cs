using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_getevents_arg</c>: io_uring_enter's IORING_ENTER_EXT_ARG argument (a wait timeout), 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
internal struct IoUringGeteventsArg
{
    public ulong Sigmask;
    public uint SigmaskSize;
    public uint MinWaitUsec;
    /// <summary>Address of a <see cref="KernelTimespec"/>, or 0 to wait without a timeout.</summary>
    public ulong Ts;
}
