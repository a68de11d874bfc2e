using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_cqe</c>: one completion, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct IoUringCqe
{
    public ulong UserData;
    /// <summary>The operation's result: bytes, an fd, or -errno.</summary>
    public int Res;
    /// <summary><c>IORING_CQE_F_*</c>; the upper 16 bits carry the buffer id when <c>IORING_CQE_F_BUFFER</c> is set.</summary>
    public uint Flags;
}
